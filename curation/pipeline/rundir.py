"""The run directory: resolved config, engine cache, one folder per stage with its output and marker.

    RUN_DIR/config.yaml            the resolved config of the latest run
    RUN_DIR/cache/                 the engine's response cache (unless cache_dir says otherwise)
    RUN_DIR/<stage>/dataset/       the stage's output (save_to_disk, memory-mapped when read)
    RUN_DIR/<stage>/_done.json     marker: settings fingerprint, chain, summary, seconds
    RUN_DIR/output/                the verified / unverified sets and the dataset card

A stage is finished when its marker exists and its chain (its settings and every earlier stage's)
matches the current config: changing a stage's settings re-runs it and what follows, nothing before.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

from thoughtmill.curation.errors import InputError
from thoughtmill.curation.pipeline.config import STAGE_ORDER, PipelineConfig

MARKER = "_done.json"


class RunDir:
    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.root = Path(config.run_dir)

    @property
    def cache_root(self) -> Path:
        """What the engine gets as ``working_dir`` (it keeps its cache in ``working_dir/cache``)."""
        return Path(self.config.cache_dir).parent if self.config.cache_dir else self.root

    @property
    def output(self) -> Path:
        return self.root / "output"

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def dataset_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / "dataset"

    def marker_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / MARKER

    def chain(self, stage: str) -> str:
        """Fingerprint of this stage's settings and of every stage before it."""
        digest = hashlib.sha256()
        for name in STAGE_ORDER[: STAGE_ORDER.index(stage) + 1]:
            digest.update(f"{name}:{self.config.fingerprint(name)};".encode())
        return digest.hexdigest()[:16]

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.root / "config.yaml", self.config.to_yaml())

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
        marker = self.marker(stage)
        return (
            bool(marker)
            and marker.get("chain") == self.chain(stage)
            and marker.get("input_token") == input_token
            and not marker.get("incomplete")
        )

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
            "dataset": str(dataset) if dataset else None,
            "chain": self.chain(stage),
            "fingerprint": self.config.fingerprint(stage),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(seconds, 3),
            "incomplete": incomplete,
            "summary": summary,
        }
        self.stage_dir(stage).mkdir(parents=True, exist_ok=True)
        _atomic_write(self.marker_path(stage), json.dumps(record, indent=2, default=str))
        return token

    def clear(self, stage: str) -> None:
        """Forget that a stage finished (its output is rebuilt; the engine cache is kept)."""
        self.marker_path(stage).unlink(missing_ok=True)

    def summaries(self) -> dict[str, dict[str, Any]]:
        return {s: (self.marker(s) or {}).get("summary", {}) for s in STAGE_ORDER}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
