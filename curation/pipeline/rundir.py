"""The run directory: resolved config, engine cache, one folder per stage with its output and marker.

    RUN_DIR/config.yaml            the resolved config of the latest run
    RUN_DIR/cache/                 the engine's response cache (unless cache_dir says otherwise)
    RUN_DIR/<stage>/dataset/       the stage's output (save_to_disk, memory-mapped when read)
    RUN_DIR/<stage>/_done.json     marker: fingerprint parts, chain, summary, seconds
    RUN_DIR/output/                the verified / unverified sets and the dataset card
    RUN_DIR/summary.json           how the latest run ended: each stage's status, or the fatal error
    RUN_DIR/progress.json          the heartbeat: where the run is now (``heartbeat.py``; ``status``)
    RUN_DIR/progress.jsonl         the heartbeat's history, one record per beat (the report's plots)
    RUN_DIR/report.html            the run report (``thoughtmill report``)

A stage is finished when its marker exists and its chain (its fingerprint and every earlier stage's)
matches the current config: changing a stage's settings, or what they resolve to (a teacher YAML, a
source file; see ``fingerprint.py``), re-runs it and what follows, nothing before. Paths in markers
are relative to the run directory, so a copied run directory reads its own outputs.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

from thoughtmill.curation.errors import InputError
from thoughtmill.curation.pipeline.atomic import atomic_write
from thoughtmill.curation.pipeline.config import STAGE_ORDER, PipelineConfig
from thoughtmill.curation.pipeline.fingerprint import combine, stage_parts, what_changed
from thoughtmill.curation.pipeline.heartbeat import HISTORY_FILE, PROGRESS_FILE, Heartbeat

MARKER = "_done.json"


class RunDir:
    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.root = Path(config.run_dir)
        self._parts: dict[str, dict[str, str]] = {}
        self._heartbeat: Heartbeat | None = None

    @property
    def heartbeat(self) -> Heartbeat:
        """This run's heartbeat (``progress.json``); created when a run first reports."""
        if self._heartbeat is None:
            self._heartbeat = Heartbeat(self.root)
        return self._heartbeat

    @property
    def cache_root(self) -> Path:
        """What the engine gets as ``working_dir`` (it keeps its cache in ``working_dir/cache``)."""
        return Path(self.config.cache_dir).parent if self.config.cache_dir else self.root

    def earlier_caches(self, stage: str) -> list[Path]:
        """Caches holding ``stage``'s answers under another shard layout, which its engine reads through
        (copying what it finds): run unsharded after a sharded run, or with another ``executor.shards``,
        and no answer is paid for twice. Here: every shard partition the stage has left."""
        return sorted(self.stage_dir(stage).glob("shards/*/cache"))

    @property
    def output(self) -> Path:
        return self.root / "output"

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def dataset_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / "dataset"

    def marker_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / MARKER

    @property
    def summary_path(self) -> Path:
        return self.root / "summary.json"

    @property
    def progress_path(self) -> Path:
        return self.root / PROGRESS_FILE

    @property
    def progress_history_path(self) -> Path:
        return self.root / HISTORY_FILE

    def relative(self, path: Path | str | None) -> str | None:
        """A path as recorded in a marker or summary: relative to the run directory when inside it."""
        if path is None:
            return None
        path = Path(path)
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def resolve(self, recorded: str | None) -> Path | None:
        """A recorded path back to a real one (relative ones are inside this run directory)."""
        return None if not recorded else self.root / recorded

    def fingerprint_parts(self, stage: str) -> dict[str, str]:
        """The named parts of a stage's fingerprint (computed once per run: files are hashed once)."""
        if stage not in self._parts:
            self._parts[stage] = stage_parts(self.config, stage)
        return self._parts[stage]

    def fingerprint(self, stage: str) -> str:
        """One stage's fingerprint: its settings and what they resolve to."""
        return combine(self.fingerprint_parts(stage))

    def chain(self, stage: str) -> str:
        """Fingerprint of this stage and of every stage before it."""
        digest = hashlib.sha256()
        for name in STAGE_ORDER[: STAGE_ORDER.index(stage) + 1]:
            digest.update(f"{name}:{self.fingerprint(name)};".encode())
        return digest.hexdigest()[:16]

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.root / "config.yaml", self.config.to_yaml())

    def marker(self, stage: str) -> dict[str, Any] | None:
        path = self.marker_path(stage)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(
                f"stage marker {path} is unreadable ({exc}); delete it to re-run the stage"
            ) from exc

    def is_done(self, stage: str, input_token: str) -> bool:
        """Finished with the current settings, on the output the previous stage has now."""
        return self.stale_reason(stage, input_token) is None

    def stale_reason(self, stage: str, input_token: str) -> str | None:
        """Why a stage must run (None: it is done with the current settings and input)."""
        marker = self.marker(stage)
        if not marker:
            return "not run before"
        if marker.get("incomplete"):
            return "incomplete last time: retrying what failed"
        if marker.get("input_token") != input_token:
            return "its input changed (an earlier stage ran again)"
        if marker.get("chain") == self.chain(stage):
            return None
        old = marker.get("fingerprint_parts")
        changed = what_changed(old, self.fingerprint_parts(stage)) if isinstance(old, dict) else []
        return "; ".join(changed) if changed else "its settings, or an earlier stage's, changed"

    def mark_done(
        self,
        stage: str,
        summary: dict[str, Any],
        seconds: float,
        *,
        dataset: Path | None,
        input_token: str,
        incomplete: bool = False,
    ) -> str:
        """Record a finished stage; returns its token (what the next stage's marker must name)."""
        token = uuid.uuid4().hex[:16]
        record = {
            "stage": stage,
            "token": token,
            "input_token": input_token,
            "dataset": self.relative(dataset),
            "chain": self.chain(stage),
            "fingerprint": self.fingerprint(stage),
            "fingerprint_parts": self.fingerprint_parts(stage),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(seconds, 3),
            "incomplete": incomplete,
            "summary": summary,
        }
        self.stage_dir(stage).mkdir(parents=True, exist_ok=True)
        atomic_write(self.marker_path(stage), json.dumps(record, indent=2, default=str))
        return token

    def clear(self, stage: str) -> None:
        """Forget that a stage finished (its output is rebuilt; the engine cache is kept)."""
        self.marker_path(stage).unlink(missing_ok=True)

    def summaries(self) -> dict[str, dict[str, Any]]:
        return {s: (self.marker(s) or {}).get("summary", {}) for s in STAGE_ORDER}

    def write_summary(self, record: dict[str, Any]) -> None:
        """``summary.json``: how the latest run ended (replaced atomically)."""
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.summary_path, json.dumps(record, indent=2, default=str))
