"""Saved generations: every model output on disk, so scoring never needs the model.

Layout, per task, under ``<output>/<model>/generations/<TASK>/``:

* ``task.json`` — the task's options (repeats, seeds, sampling, data source) for re-scoring;
* ``examples.jsonl`` — the prepared questions (GPQA options in their shuffled order, LiveCodeBench
  tests decoded), so re-scoring needs neither the hub nor the data file;
* ``generations*.jsonl`` — one line per (question, repeat): request key, messages, sampling, and the
  model's content, reasoning, finish reason and token counts. Lines are appended as results arrive;
  a sharded run writes ``generations-shard<i>of<n>.jsonl`` and scoring reads them all.

A line is reused on resume only if its request hash (messages + sampling) matches the current request,
so changing a prompt or a seed never silently scores stale answers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from thoughtmill.eval.errors import OutputsError
from thoughtmill.eval.types import Generation, GenerationRequest


def request_hash(request: GenerationRequest) -> str:
    """What must match for a saved generation to answer ``request``."""
    payload = json.dumps([list(request.messages), request.sampling.to_dict()], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number == len(lines):  # a run killed mid-write leaves a partial last line: drop it
                break
            raise OutputsError(f"{path}: line {number} is not valid JSON ({exc.msg})") from exc
    return rows


class TaskOutputs:
    """The saved state of one task of one run."""

    def __init__(self, directory: Path, task: str, shard: tuple[int, int] = (0, 1)) -> None:
        self.task = task
        self.dir = Path(directory) / task
        index, count = shard
        name = "generations.jsonl" if count == 1 else f"generations-shard{index}of{count}.jsonl"
        self.generations_path = self.dir / name

    @property
    def examples_path(self) -> Path:
        return self.dir / "examples.jsonl"

    @property
    def task_path(self) -> Path:
        return self.dir / "task.json"

    def exists(self) -> bool:
        return self.examples_path.is_file() and self.task_path.is_file()

    # ---- examples and options ---------------------------------------------------------------------
    def save_task(self, options: dict[str, Any], examples: list[dict[str, Any]]) -> None:
        """Record the task's options and prepared questions; a different set already there is an error."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.exists():
            saved = json.loads(self.task_path.read_text())
            if saved.get("fingerprint") != _fingerprint(examples):
                raise OutputsError(
                    f"{self.dir}: saved questions differ from the ones loaded now (another data file, "
                    f"limit or shuffle seed?); use another --output or remove the folder"
                )
            saved["options"] = options
            self.task_path.write_text(json.dumps(saved, indent=2))
            return
        _write_jsonl(self.examples_path, examples)
        self.task_path.write_text(
            json.dumps(
                {"task": self.task, "options": options, "fingerprint": _fingerprint(examples)}, indent=2
            )
        )

    def load_task(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if not self.exists():
            raise OutputsError(f"{self.dir}: no saved task (expected task.json and examples.jsonl)")
        saved = json.loads(self.task_path.read_text())
        return saved.get("options", {}), _read_jsonl(self.examples_path)

    # ---- generations ------------------------------------------------------------------------------
    def append(self, request: GenerationRequest, generation: Generation) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        row = {
            "key": request.key,
            "task": request.task,
            "example_index": request.example_index,
            "repeat": request.repeat,
            "request_hash": request_hash(request),
            "messages": list(request.messages),
            "sampling": request.sampling.to_dict(),
            **generation.to_dict(),
        }
        with self.generations_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")

    def saved_rows(self) -> list[dict[str, Any]]:
        rows = []
        for path in sorted(self.dir.glob("generations*.jsonl")):
            rows.extend(_read_jsonl(path))
        return rows

    def generations(self, requests: list[GenerationRequest] | None = None) -> dict[str, Generation]:
        """Saved generations by request key (the last line wins); with ``requests``, only those whose
        request hash still matches."""
        wanted = {r.key: request_hash(r) for r in requests} if requests is not None else None
        found: dict[str, Generation] = {}
        for row in self.saved_rows():
            key = row.get("key")
            if key is None:
                continue
            if wanted is not None and wanted.get(key) != row.get("request_hash"):
                continue
            found[key] = Generation.from_dict(row)
        return found


def _fingerprint(examples: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(examples, sort_keys=True, default=str).encode()).hexdigest()[:16]
