"""Read benchmark rows from local JSON, JSON Lines or Parquet files.

Evalchemy ships its math sets as ``*.json`` files that are in fact JSON Lines, so a ``.json`` file is
read as one JSON document first and as JSON Lines when that fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thoughtmill.eval.errors import DataError


def _json_lines(path: Path, text: str) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {number} is not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise DataError(f"{path}: line {number} is a {type(row).__name__}, expected a JSON object")
        rows.append(row)
    return rows


def _json_document(path: Path, text: str) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(data, dict):
        # {"examples": [...]} / {"test": [...]}: a single list-valued key holding the rows
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            data = lists[0]
        else:
            return [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: expected a list of JSON objects (or JSON Lines)")
    return data


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a local benchmark file as dicts, in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"benchmark data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix not in (".json", ".jsonl"):
        raise DataError(f"{path}: unsupported file type {suffix!r} (expected .json, .jsonl or .parquet)")
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        rows = _json_document(path, text)
        if rows is not None:
            return rows
    return _json_lines(path, text)
