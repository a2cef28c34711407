"""Spool files: the uncached requests written to JSONL in the provider's batch format, split at its limits.

Written to a temporary name, fsync'd and renamed, then recorded in the ledger: a spool file named
in the ledger is always complete. Each line is one request, its ``custom_id`` the request's cache
key, so an answer goes into the cache under the key the live path would use. Identical requests are
spooled once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thoughtmill.curation.engine.batch.ledger import Ledger, SpoolRecord
from thoughtmill.curation.engine.request import Request
from thoughtmill.curation.errors import CurationError

LineFn = Callable[[str, Request], dict[str, Any]]  # (cache key, request) -> the provider's line


@dataclass(frozen=True)
class Limits:
    """The most one batch may hold."""

    requests: int
    bytes: int


def spool_requests(
    items: Iterable[tuple[str, Request]],
    line: LineFn,
    limits: Limits,
    ledger: Ledger,
    round: int = 1,
) -> list[SpoolRecord]:
    """Write ``(key, request)`` pairs into as many spool files as the limits need; record each one."""
    lines = (json.dumps(line(key, request), ensure_ascii=False).encode() + b"\n" for key, request in items)
    return spool_lines(lines, limits, ledger, round)


def spool_lines(lines: Iterable[bytes], limits: Limits, ledger: Ledger, round: int) -> list[SpoolRecord]:
    """Write ready lines (each ending in a newline) into spool files within the limits."""
    records: list[SpoolRecord] = []
    current: _Writer | None = None
    for data in lines:
        if len(data) > limits.bytes:
            raise CurationError(
                f"one batch request is {len(data)} bytes, over the batch limit of {limits.bytes} (batch.max_bytes)"
            )
        if current is not None and (
            current.count >= limits.requests or current.size + len(data) > limits.bytes
        ):
            records.append(current.finish(ledger, round))
            current = None
        if current is None:
            current = _Writer(ledger)
        current.write(data)
    if current is not None:
        records.append(current.finish(ledger, round))
    return records


def read_lines(directory: Path, record: SpoolRecord) -> Iterator[bytes]:
    """The lines of a spool file, as written."""
    with open(directory / record.file, "rb") as f:
        yield from f


def custom_ids(directory: Path, record: SpoolRecord) -> set[str]:
    """The cache keys a spool file asked for."""
    return {json.loads(line)["custom_id"] for line in read_lines(directory, record)}


class _Writer:
    """One spool file being written."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.spool = ledger.next_spool_id()
        self.name = f"spool-{self.spool}.jsonl"
        self.temporary = ledger.directory / f".{self.name}.tmp"
        self.file = open(self.temporary, "wb")  # noqa: SIM115 (open across writes, closed in finish)
        self.count = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.count += 1
        self.size += len(data)

    def finish(self, ledger: Ledger, round: int) -> SpoolRecord:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temporary, ledger.directory / self.name)
        return ledger.spooled(self.spool, self.name, self.count, self.size, round)
