"""What one engine run leaves in its directory besides the dataset: failed rows, refused answers, summary.

Both logs are JSON lines flushed line by line, so a killed run still shows what failed and keeps
every paid-for answer it refused. The summary is replaced atomically: a reader never sees half of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from thoughtmill.curation.engine.request import Response


@dataclass
class RunPaths:
    """Files of one run, all under one directory."""

    root: Path

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def shards(self) -> Path:
        return self.root / "shards"

    @property
    def failures(self) -> Path:
        return self.root / "failures.jsonl"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected_responses.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"


class RunRecords:
    """The run's two logs: rows that failed (rewritten each run) and refused answers (kept across runs)."""

    def __init__(self, paths: RunPaths) -> None:
        self._failures: TextIO = open(paths.failures, "w")  # noqa: SIM115 - closed by close()
        self._rejected: TextIO = open(paths.rejected, "a")  # noqa: SIM115 - closed by close()

    def failure(self, index: int, kind: str, message: str, raw: str | None = None) -> None:
        record: dict[str, Any] = {"row": index, "reason": kind, "error": message}
        if raw:
            record["raw"] = raw
        _write_line(self._failures, record)

    def rejected(self, cache_key: str, why: str, response: Response) -> None:
        """Keep a paid-for answer the engine refused, so it is never lost."""
        _write_line(self._rejected, {"cache_key": cache_key, "why": why, **response.to_record()})

    def close(self) -> None:
        self._failures.close()
        self._rejected.close()

    def __enter__(self) -> RunRecords:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(path)


def _write_line(handle: TextIO, record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    handle.flush()
