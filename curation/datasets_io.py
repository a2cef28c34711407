"""Datasets on disk with plain file I/O: read a whole set without keeping it mapped, write the folder.

Reading. Every stage input is a ``save_to_disk`` folder or an Arrow file that ``datasets`` memory-maps. Reading
a whole set through that map leaves every page read resident in the process (file-backed RSS that
grows with the run: ~110 MB of a 173k verify input). A dataset whose rows are exactly those of its
Arrow files (no recorded change but a choice of columns), or a sorted selection of them (what
``filter`` / ``select(keep)`` leave), is read here from the files with ``pa.OSFile`` instead, a batch
at a time. Anything else (rows in memory, a cast, a shuffled selection) is gathered from the mapped
table a batch at a time, chunk by chunk (:func:`take_rows`). The engine reads its input rows this way;
every pipeline stage reads its input this way.

Writing. A folder written batch by batch (the engine's output, the pipeline's stages and verified set)
gets the ``state.json`` and ``dataset_info.json`` that ``save_to_disk`` would write, so
``datasets.load_from_disk`` opens it: :func:`write_folder_state`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
from datasets.features.features import require_decoding
from datasets.table import ConcatenationTable, MemoryMappedTable
from datasets.utils.py_utils import asdict  # datasets' own: leaves out unset fields, as save_to_disk does

#: The data file of a one-shard ``save_to_disk`` folder.
DATA_FILE = "data-00000-of-00001.arrow"
#: Rows per batch unless a caller asks for another size.
READ_ROWS = 1_000
#: Changes ``datasets`` records on a mapped table that leave each kept column as the file holds it.
_COLUMN_CHOICES = frozenset({"select", "drop", "remove_column", "replace_schema_metadata"})


def plain_files(ds: datasets.Dataset) -> list[str] | None:
    """The Arrow files whose rows, concatenated, are the rows of ``ds``'s table; None when they are not.

    The indices mapping (``ds._indices``) is not looked at: it selects among these rows.
    """
    table = ds.data
    blocks = table.blocks if isinstance(table, ConcatenationTable) else [[table]]
    files: list[str] = []
    for row in blocks:
        if len(row) != 1:  # columns concatenated side by side
            return None
        block = row[0]
        if not isinstance(block, MemoryMappedTable) or block.path is None:
            return None
        if any(op not in _COLUMN_CHOICES for op, *_ in block.replays):
            return None
        files.append(block.path)
    return files


def _sorted_selection(ds: datasets.Dataset) -> np.ndarray | None:
    """The indices mapping as int64 when it exists and never goes backwards (else None)."""
    if ds._indices is None:
        return None
    positions = ds._indices.column(0).to_numpy().astype(np.int64, copy=False)
    if len(positions) > 1 and not bool(np.all(positions[1:] >= positions[:-1])):
        return None
    return positions


def _file_plan(ds: datasets.Dataset) -> tuple[list[str], np.ndarray | None] | None:
    """The files to read and the sorted selection among their rows (None: all), when ``ds`` can be
    read from its files; None when it cannot."""
    files = plain_files(ds)
    if files is None:
        return None
    selection = _sorted_selection(ds)
    if ds._indices is not None and selection is None:
        return None
    return files, selection


def streams_from_files(ds: datasets.Dataset) -> bool:
    """Whether :func:`read_batches` reads ``ds`` from its files with plain reads (not the memory map)."""
    return _file_plan(ds) is not None


def read_batches(
    ds: datasets.Dataset, rows: int = READ_ROWS, columns: Sequence[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """The rows of ``ds`` (indices mapping applied, in order) as record batches of ``rows`` rows (the
    last may be shorter), for ``columns`` (default: all), with the schema of ``ds``'s table."""
    names = list(columns) if columns is not None else ds.column_names
    schema = pa.schema([ds.data.schema.field(name) for name in names], metadata=ds.data.schema.metadata)
    plan = _file_plan(ds)
    if plan is not None:
        pieces: Iterator[pa.RecordBatch] = _file_pieces(plan[0], names, plan[1])
    else:
        pieces = _gathered_pieces(ds, names, rows)
    for batch in _rebatch(pieces, rows):
        yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)


def read_rows(
    ds: datasets.Dataset, rows: int = READ_ROWS, columns: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of ``ds`` as dicts, what ``ds.iter`` would give, read through :func:`read_batches`.

    A formatted dataset, or one with features that decode (images, audio), goes through ``ds.iter``.
    """
    names = list(columns) if columns is not None else ds.column_names
    if ds.format["type"] is not None or any(require_decoding(ds.features[name]) for name in names):
        for batch in ds.select_columns(names).iter(batch_size=rows):
            for values in zip(*(batch[name] for name in names)):
                yield dict(zip(names, values))
        return
    for batch in read_batches(ds, rows, names):
        yield from batch.to_pylist()


def _file_pieces(
    files: list[str], names: list[str], selection: np.ndarray | None
) -> Iterator[pa.RecordBatch]:
    """Record batches of the files, in order, keeping only the ``selection`` rows (sorted) if given."""
    first = 0  # table position of the current batch's first row
    for filename in files:
        with pa.OSFile(filename) as source:  # plain reads: no page of the file stays mapped here
            for batch in pa.ipc.open_stream(source):
                start, first = first, first + batch.num_rows
                batch = batch.select(names)
                if selection is not None:
                    lo, hi = np.searchsorted(selection, [start, first])
                    if lo == hi:
                        continue
                    batch = batch.take(pa.array(selection[lo:hi] - start))
                yield batch


def _gathered_pieces(ds: datasets.Dataset, names: list[str], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches gathered from the (mapped or in-memory) table, ``rows`` at a time."""
    table = ds.data.table.select(names)
    if ds._indices is None:
        yield from table.to_batches(max_chunksize=rows)
        return
    positions = ds._indices.column(0).to_numpy().astype(np.int64, copy=False)
    for start in range(0, len(positions), rows):
        yield from take_rows(table, positions[start : start + rows]).to_batches()


def _rebatch(pieces: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Regroup record batches of any sizes into batches of exactly ``rows`` rows (the last may be shorter)."""
    held: list[pa.RecordBatch] = []
    count = 0
    for piece in pieces:
        while piece.num_rows:
            part = piece.slice(0, rows - count)
            piece = piece.slice(part.num_rows)
            held.append(part)
            count += part.num_rows
            if count == rows:
                yield _combine(held)
                held, count = [], 0
    if count:
        yield _combine(held)


def _combine(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def take_rows(data: pa.Table | pa.ChunkedArray, positions: np.ndarray) -> Any:
    """``data.take(positions)``, gathered chunk by chunk; a Table for a Table, an Array for a column.

    Arrow's ``take`` on a chunked string column first concatenates every chunk: a copy of the whole
    column (~50 MB for 173k problems) in Arrow's memory pool on every call, which the pool then keeps.
    """
    positions = np.asarray(positions, dtype=np.int64)
    if isinstance(data, pa.Table):
        return pa.Table.from_arrays(
            [take_rows(column, positions) for column in data.columns], schema=data.schema
        )
    lengths = np.fromiter((len(chunk) for chunk in data.chunks), dtype=np.int64, count=data.num_chunks)
    starts = np.concatenate(([0], np.cumsum(lengths)))
    if len(positions) and (positions.min() < 0 or positions.max() >= starts[-1]):
        raise IndexError(f"take_rows: positions out of range for {starts[-1]} rows")
    ascending = len(positions) < 2 or bool(np.all(positions[1:] >= positions[:-1]))
    order = None if ascending else np.argsort(positions, kind="stable")
    ordered = positions if order is None else positions[order]
    chunk_of = np.searchsorted(starts, ordered, side="right") - 1
    bounds = np.searchsorted(chunk_of, np.arange(data.num_chunks + 1))
    parts = [
        data.chunk(k).take(pa.array(ordered[bounds[k] : bounds[k + 1]] - starts[k]))
        for k in np.flatnonzero(np.diff(bounds)).tolist()
    ]
    gathered = pa.concat_arrays(parts) if parts else pa.array([], type=data.type)
    if order is None:
        return gathered
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return gathered.take(pa.array(inverse))


def write_folder_state(ds: datasets.Dataset, folder: Path, data_file: str = DATA_FILE) -> None:
    """``state.json`` and ``dataset_info.json`` exactly as ``save_to_disk`` writes them for ``ds``."""
    keys = ("_fingerprint", "_format_columns", "_format_kwargs", "_format_type", "_output_all_columns")
    state = {key: ds.__dict__[key] for key in keys}
    state["_split"] = str(ds.split) if ds.split is not None else None
    state["_data_files"] = [{"filename": data_file}]
    (folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
    info = asdict(ds.info)  # first-level keys sorted only, as save_to_disk does (nested feature order kept)
    (folder / "dataset_info.json").write_text(json.dumps({key: info[key] for key in sorted(info)}, indent=2))


def write_dataset_metadata(folder: Path, data_file: str = DATA_FILE) -> None:
    """The folder state for an Arrow stream file written there batch by batch (its schema is read,
    through a memory map that is dropped at once)."""
    dataset = datasets.Dataset.from_file(str(folder / data_file))
    write_folder_state(dataset, folder, data_file)
    del dataset
