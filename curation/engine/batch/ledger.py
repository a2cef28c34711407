"""The batch ledger: every batch this run directory submitted, written down before anything else happens.

An append-only JSONL file (``RUN_DIR/batches/ledger.jsonl``), one event per line, each flushed and
fsync'd before the call that caused it returns: a spool file written, the moment its upload
starts and the file id it got (OpenAI), the moment a batch is about to be created, its id the moment
the provider answers, and its collection once the answers are committed to the cache. A run killed at any point reads the ledger back and
polls the batches it already submitted; it never submits them again. A torn last line (a kill in the
middle of a write) is ignored. Ids only: no key, no header, no prompt is ever written here.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thoughtmill.curation.errors import CurationError

log = logging.getLogger("thoughtmill.engine")

LEDGER_FILE = "ledger.jsonl"


@dataclass
class SpoolRecord:
    """What the ledger knows about one spool file and the batch made from it."""

    spool: str
    file: str
    count: int
    bytes: int
    round: int = 1
    uploading_at: float | None = None  # OpenAI: an upload was about to be sent at this time
    file_id: str | None = None  # OpenAI: the uploaded input file
    creating_at: float | None = None  # a create call was about to be sent at this time
    batch_id: str | None = None
    collected: bool = False
    outcome: dict[str, Any] = field(default_factory=dict)

    @property
    def pending(self) -> bool:
        """Spooled but not collected yet: its requests are on their way (or about to be)."""
        return not self.collected


def parse_ledger(path: Path, data: bytes) -> dict[str, SpoolRecord]:
    """The spools a ledger's bytes describe (a torn last line is ignored)."""
    spools: dict[str, SpoolRecord] = {}
    for number, line in enumerate(data[: data.rfind(b"\n") + 1].split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            apply_event(spools, json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise CurationError(
                f"batch ledger {path}, line {number}: unreadable event ({exc}); it lists the batches "
                "this run directory paid for: repair the line rather than delete the file"
            ) from exc
    return spools


def apply_event(spools: dict[str, SpoolRecord], event: dict[str, Any]) -> None:
    kind, spool = event["event"], event["spool"]
    if kind == "spooled":
        spools[spool] = SpoolRecord(
            spool=spool, file=event["file"], count=event["count"], bytes=event["bytes"], round=event["round"]
        )
        return
    record = spools[spool]
    if kind == "uploading":
        record.uploading_at = event["at"]
    elif kind == "uploaded":
        record.file_id = event["file_id"]
    elif kind == "creating":
        record.creating_at = event["at"]
    elif kind == "created":
        record.batch_id = event["batch_id"]
    elif kind == "collected":
        record.collected = True
        record.outcome = event.get("outcome", {})
    else:
        raise ValueError(f"unknown event {kind!r}")


def uncollected_batches(directory: Path) -> list[SpoolRecord]:
    """Batches a ledger created (or was creating: the answer may have been lost) and has not collected:
    paid for, their answers not in the cache yet. Read only: the ledger is left as it is."""
    path = directory / LEDGER_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    spools = parse_ledger(path, data)
    return [r for r in spools.values() if r.pending and (r.batch_id or r.creating_at is not None)]


class Ledger:
    """Reads the events back into one :class:`SpoolRecord` per spool, and appends new ones durably."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / LEDGER_FILE
        self.spools: dict[str, SpoolRecord] = {}
        self._replay()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _fsync_dir(directory)

    def _replay(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):  # a kill in the middle of a write: drop the torn tail
            keep = data.rfind(b"\n") + 1
            log.warning("batch ledger %s: dropping a torn last line (%d bytes)", self.path, len(data) - keep)
            with open(self.path, "r+b") as f:
                f.truncate(keep)
                os.fsync(f.fileno())
        self.spools = parse_ledger(self.path, data)

    def _apply(self, event: dict[str, Any]) -> None:
        apply_event(self.spools, event)

    def _append(self, event: dict[str, Any]) -> None:
        self._apply(event)
        os.write(self._fd, (json.dumps(event, sort_keys=True) + "\n").encode())
        os.fsync(self._fd)

    # ------------------------------------------------------------------ the events
    def next_spool_id(self) -> str:
        return f"{len(self.spools) + 1:05d}"

    def spooled(self, spool: str, file: str, count: int, size: int, round: int) -> SpoolRecord:
        self._append(
            {"event": "spooled", "spool": spool, "file": file, "count": count, "bytes": size, "round": round}
        )
        return self.spools[spool]

    def uploading(self, spool: str) -> None:
        self._append({"event": "uploading", "spool": spool, "at": time.time()})

    def uploaded(self, spool: str, file_id: str) -> None:
        self._append({"event": "uploaded", "spool": spool, "file_id": file_id})

    def creating(self, spool: str) -> None:
        self._append({"event": "creating", "spool": spool, "at": time.time()})

    def created(self, spool: str, batch_id: str) -> None:
        self._append({"event": "created", "spool": spool, "batch_id": batch_id})

    def collected(self, spool: str, outcome: dict[str, Any]) -> None:
        self._append({"event": "collected", "spool": spool, "outcome": outcome})

    def known_batch_ids(self) -> set[str]:
        return {r.batch_id for r in self.spools.values() if r.batch_id}

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable too (not only its bytes)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
