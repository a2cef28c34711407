"""Stream result rows to Arrow shards, then assemble one dataset in input order with bounded memory.

Rows finish in any order; each carries its input position (``__row``) and its place among the rows
its ``parse`` returned (``__sub``). Every ``rows_per_shard`` rows the buffer is sorted and written as
an Arrow IPC file whose record batches never straddle a *bucket* (a block of ``rows_per_shard``
consecutive input positions). ``finalize`` then walks the buckets in order, reads just that bucket's
batches from the shards (plain reads, no memory map, so nothing lingers in the process), sorts the
few thousand rows, and appends them to the output file. A resumed run therefore writes exactly what
an uninterrupted one would, and neither the run nor its finalisation holds more than a bucket.

The output directory is what ``Dataset.save_to_disk`` writes (``data-*.arrow``, ``state.json``,
``dataset_info.json``), so ``datasets.load_from_disk`` reads it, memory-mapped.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
from thoughtmill.curation.datasets_io import DATA_FILE, write_dataset_metadata
from thoughtmill.curation.errors import InputError

ROW = "__row"
SUB = "__sub"


class ShardWriter:
    """Buffer rows; write them as bucket-aligned Arrow IPC files; assemble them in order."""

    def __init__(self, directory: str | Path, rows_per_shard: int = 2000) -> None:
        self.directory = Path(directory)
        if self.directory.exists():
            shutil.rmtree(self.directory)  # shards of an interrupted run: rebuilt from the cache
        self.directory.mkdir(parents=True)
        self.rows_per_shard = rows_per_shard
        self._buffer: list[dict[str, Any]] = []
        self._parts: dict[int, list[tuple[Path, int]]] = {}  # bucket -> (shard, batch index)
        self._schemas: list[pa.Schema] = []
        self.rows_written = 0

    @property
    def rows_buffered(self) -> int:
        return len(self._buffer)

    def add(self, row_index: int, rows: list[dict[str, Any]]) -> None:
        for sub, row in enumerate(rows):
            self._buffer.append({ROW: row_index, SUB: sub, **row})
        if len(self._buffer) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        self._buffer.sort(key=lambda r: (r[ROW], r[SUB]))
        table = _to_table(self._buffer)
        path = self.directory / f"shard-{len(self._schemas):05d}.arrow"
        buckets = table.column(ROW).to_numpy() // self.rows_per_shard
        cuts = [0, *(np.flatnonzero(np.diff(buckets)) + 1).tolist(), len(buckets)]
        batch_index = 0
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            for start, stop in itertools.pairwise(cuts):
                for batch in table.slice(start, stop - start).to_batches():
                    writer.write_batch(batch)
                    self._parts.setdefault(int(buckets[start]), []).append((path, batch_index))
                    batch_index += 1
        self._schemas.append(table.schema)
        self.rows_written += len(self._buffer)
        self._buffer = []

    def finalize(self, output_dir: str | Path) -> datasets.Dataset:
        """Write the ordered dataset to ``output_dir`` and return it memory-mapped from there."""
        self.flush()
        output_dir = Path(output_dir)
        staging = output_dir.with_name(output_dir.name + ".partial")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        schema = _unify(self._schemas) if self._schemas else pa.schema([])
        out_schema = pa.schema([f for f in schema if f.name not in (ROW, SUB)])
        with pa.OSFile(str(staging / DATA_FILE), "wb") as sink, pa.ipc.new_stream(sink, out_schema) as out:
            for bucket in sorted(self._parts):
                table = pa.Table.from_batches([_read_batch(p, i) for p, i in self._parts[bucket]])
                out.write_table(_in_input_order(_conform(table, schema)).drop_columns([ROW, SUB]))
        write_dataset_metadata(staging)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        staging.rename(output_dir)
        shutil.rmtree(self.directory, ignore_errors=True)
        return datasets.load_from_disk(str(output_dir))


def _in_input_order(table: pa.Table) -> pa.Table:
    """Sorted by input position; a bucket already in order (a fully cached run) is not copied."""
    order = np.lexsort((table.column(SUB).to_numpy(), table.column(ROW).to_numpy()))
    if np.array_equal(order, np.arange(len(order))):
        return table
    return table.take(pa.array(order))


def _read_batch(path: Path, index: int) -> pa.RecordBatch:
    with pa.OSFile(str(path)) as source:  # plain reads: the pages don't stay mapped in this process
        return pa.ipc.open_file(source).get_batch(index)


def _unify(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for all shards; a field typed differently in different rows is the user's error."""
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        types: dict[str, set[str]] = {}
        for schema in schemas:
            for field in schema:
                if not pa.types.is_null(field.type):
                    types.setdefault(field.name, set()).add(str(field.type))
        clash = {name: sorted(t) for name, t in types.items() if len(t) > 1}
        detail = "; ".join(f"'{n}' is {' and '.join(t)}" for n, t in clash.items()) or str(exc)
        raise InputError(f"parse() returned fields whose type differs between rows: {detail}") from exc


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Give a shard's table the unified schema: missing columns as nulls, types promoted."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(len(table), field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Columns are the union of every row's keys (``from_pylist`` would keep only the first row's)."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    try:
        return pa.Table.from_pydict({key: [row.get(key) for row in rows] for key in keys})
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
