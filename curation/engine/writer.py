"""Stream result rows to Arrow shards, then assemble one memory-mapped dataset in input order.

Rows finish in any order; each carries its input position (``__row``) and its place among the rows
its ``parse`` returned (``__sub``). Shards are flushed every ``rows_per_shard`` rows so memory does
not grow with the run. ``finalize`` unifies the shards' schemas (a column that was all-null in one
shard and text in another becomes text), sorts by position and writes the final dataset with
``save_to_disk`` — so a resumed run produces exactly what an uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa

from curation.errors import InputError

ROW = "__row"
SUB = "__sub"


class ShardWriter:
    """Buffer rows and write them as Arrow IPC stream files (what ``datasets`` memory-maps)."""

    def __init__(self, directory: str | Path, rows_per_shard: int = 2000) -> None:
        self.directory = Path(directory)
        if self.directory.exists():
            shutil.rmtree(self.directory)  # shards of an interrupted run: rebuilt from the cache
        self.directory.mkdir(parents=True)
        self.rows_per_shard = rows_per_shard
        self._buffer: list[dict[str, Any]] = []
        self.shards: list[Path] = []
        self.rows_written = 0

    def add(self, row_index: int, rows: list[dict[str, Any]]) -> None:
        for sub, row in enumerate(rows):
            self._buffer.append({ROW: row_index, SUB: sub, **row})
        if len(self._buffer) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        table = _to_table(self._buffer)
        path = self.directory / f"shard-{len(self.shards):05d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
        self.shards.append(path)
        self.rows_written += len(self._buffer)
        self._buffer = []

    def finalize(self, output_dir: str | Path) -> datasets.Dataset:
        """Write the ordered dataset to ``output_dir`` and return it memory-mapped from there."""
        self.flush()
        output_dir = Path(output_dir)
        if not self.shards:
            return datasets.Dataset.from_dict({})
        tables = [_open_shard(p) for p in self.shards]
        schema = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
        merged = self.directory / "merged.arrow"
        with pa.OSFile(str(merged), "wb") as sink, pa.ipc.new_stream(sink, schema) as stream:
            for table in tables:
                for batch in table.cast(schema).to_batches(max_chunksize=self.rows_per_shard):
                    stream.write_batch(batch)
        del tables
        staging = output_dir.with_name(output_dir.name + ".partial")
        if staging.exists():
            shutil.rmtree(staging)
        num_shards = max(1, math.ceil(self.rows_written / 50_000))
        with _quiet_datasets():
            ordered = datasets.Dataset.from_file(str(merged)).sort([ROW, SUB]).remove_columns([ROW, SUB])
            ordered.save_to_disk(str(staging), num_shards=num_shards)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        staging.rename(output_dir)
        shutil.rmtree(self.directory, ignore_errors=True)
        return datasets.load_from_disk(str(output_dir))


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No per-step progress bars or pyarrow deprecation chatter inside the engine's own output."""
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _open_shard(path: Path) -> pa.Table:
    return pa.ipc.open_stream(pa.memory_map(str(path))).read_all()


def _to_table(rows: list[dict[str, Any]]) -> pa.Table:
    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError) as exc:
        raise _locate_bad_value(rows, exc) from exc


def _locate_bad_value(rows: list[dict[str, Any]], exc: Exception) -> InputError:
    """Name the row and field that cannot be stored, instead of Arrow's generic message."""
    for row in rows:
        for field, value in row.items():
            try:
                pa.array([value])
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
                return InputError(
                    f"row {row[ROW]}: parse() returned field '{field}' of type {type(value).__name__} "
                    f"({_short(value)}), which cannot be stored; return str, numbers, bool, None, or "
                    f"lists/dicts of them"
                )
    columns = {}
    for row in rows:  # the same field with different types in different rows
        for field, value in row.items():
            columns.setdefault(field, set()).add(type(value).__name__)
    mixed = {f: sorted(t - {"NoneType"}) for f, t in columns.items() if len(t - {"NoneType"}) > 1}
    for field, types in mixed.items():
        first = next(r[ROW] for r in rows if type(r.get(field)).__name__ == types[1])
        return InputError(
            f"row {first}: parse() returned field '{field}' as {types[1]} where other rows have {types[0]}; "
            "a field must have one type in every row"
        )
    return InputError(f"parse() results cannot be stored as Arrow: {exc}")


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:60]
