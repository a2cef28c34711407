"""Export a verified set to LLaMA-Factory's sharegpt layout, streaming.

Reads a `datasets.Dataset` (object, `save_to_disk` folder) or Parquet file(s) batch by batch, keeps
verified rows, formats each as system + user/assistant turns, writes JSONL or Parquet shards into
`OUT/<name>/` and registers `<name>` in `OUT/dataset_info.json` with columns and tags mapped
explicitly. A summary (counts, length stats and histogram) is written to `OUT/<name>.summary.json`.
Shards are written to a hidden folder and swapped in at the end, so a failed export never leaves
LLaMA-Factory a half-written dataset.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from thoughtmill.training.errors import ExportError
from thoughtmill.training.formatting import Formatter, dataset_info_entry
from thoughtmill.training.lengths import TokenCounter, char_count, histogram, stats

REQUIRED_COLUMNS = ("id", "problem", "domain", "deepseek_reasoning", "deepseek_solution")
DATASET_INFO = "dataset_info.json"


@dataclass
class ExportOptions:
    """Everything that changes what the export writes."""

    name: str = "thoughtmill_verified"
    layout: str = "markers"  # markers | think
    system: str = "openthoughts"  # openthoughts | none | literal text
    format: Literal["jsonl", "parquet"] = "jsonl"
    shard_rows: int = 20_000
    include_unverified: bool = False
    tokenizer: str | None = None  # path of the student's tokenizer; None -> lengths in characters
    max_tokens: int | None = None  # drop rows longer than this (needs `tokenizer`)
    batch_size: int = 1_000


# ---------------------------------------------------------------- input


def _open_dataset(source: Any) -> Any:
    """A `datasets.Dataset` from an object or a `save_to_disk` folder; None for Parquet inputs."""
    import datasets

    if isinstance(source, datasets.Dataset):
        return source
    if isinstance(source, datasets.DatasetDict):
        if len(source) != 1 and "train" not in source:
            raise ExportError(f"a DatasetDict with splits {list(source)}: pass one split (expected 'train')")
        return source["train"] if "train" in source else next(iter(source.values()))
    path = Path(source)
    if path.is_dir() and any((path / f).exists() for f in ("state.json", "dataset_dict.json")):
        return _open_dataset(datasets.load_from_disk(str(path)))
    return None


def _parquet_files(path: Path) -> list[Path]:
    if path.is_file() and path.suffix == ".parquet":
        return [path]
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if files:
            return files
    raise ExportError(
        f"{path}: not a Dataset saved with save_to_disk (no state.json) and no .parquet file found there"
    )


def _check_columns(names: list[str], where: str, need_verified: bool) -> None:
    need = [*REQUIRED_COLUMNS, "verified"] if need_verified else list(REQUIRED_COLUMNS)
    missing = [c for c in need if c not in names]
    if missing:
        raise ExportError(f"{where}: missing column(s) {missing}; expected the verified-set schema ({need})")


def iter_row_batches(source: Any, batch_size: int, need_verified: bool = True) -> Iterator[list[dict]]:
    """Rows in batches of `batch_size` dicts: only one batch is ever held as Python objects."""
    wanted = [*REQUIRED_COLUMNS, "verified", "domain", "source", "test_cases", "starter_code"]
    ds = _open_dataset(source)
    if ds is not None:
        where = "the input Dataset" if ds is source else f"dataset at {source}"
        _check_columns(ds.column_names, where, need_verified)
        cols = [c for c in wanted if c in ds.column_names]
        for table in ds.select_columns(cols).with_format("arrow").iter(batch_size=batch_size):
            yield table.to_pylist()
        return
    import pyarrow.parquet as pq

    for file in _parquet_files(Path(source)):
        pf = pq.ParquetFile(file)
        names = pf.schema_arrow.names
        _check_columns(names, str(file), need_verified)
        cols = [c for c in wanted if c in names]
        for batch in pf.iter_batches(batch_size=batch_size, columns=cols):
            yield batch.to_pylist()


# ---------------------------------------------------------------- output


class ShardWriter:
    """Writes records into numbered shards of at most `shard_rows` rows (JSONL or Parquet)."""

    def __init__(self, folder: Path, fmt: str, shard_rows: int):
        if fmt not in ("jsonl", "parquet"):
            raise ExportError(f"unknown format {fmt!r}: expected 'jsonl' or 'parquet'")
        if shard_rows < 1:
            raise ExportError(f"shard_rows must be >= 1, got {shard_rows}")
        self.folder, self.fmt, self.shard_rows = folder, fmt, shard_rows
        self.shards: list[dict[str, Any]] = []
        self._handle: Any = None
        self._in_shard = 0

    def _open(self) -> None:
        path = self.folder / f"train-{len(self.shards):05d}.{self.fmt}"
        self.shards.append({"file": path.name, "rows": 0})
        if self.fmt == "jsonl":
            self._handle = path.open("w", encoding="utf-8")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            turn = pa.struct([("from", pa.string()), ("value", pa.string())])
            self._schema = pa.schema(
                [("id", pa.string()), ("system", pa.string()), ("conversations", pa.list_(turn))]
            )
            self._handle = pq.ParquetWriter(path, self._schema)
        self._in_shard = 0

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append records, rolling to a new shard whenever the current one is full."""
        while records:
            if self._handle is None or self._in_shard >= self.shard_rows:
                self._close()
                self._open()
            room = self.shard_rows - self._in_shard
            chunk, records = records[:room], records[room:]
            if self.fmt == "jsonl":
                self._handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chunk))
            else:
                import pyarrow as pa

                self._handle.write_table(pa.Table.from_pylist(chunk, schema=self._schema))
            self._in_shard += len(chunk)
            self.shards[-1]["rows"] += len(chunk)

    def close(self) -> None:
        self._close()


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def register_dataset(out_dir: Path, name: str, file_name: str) -> Path:
    """Add or replace `name` in OUT/dataset_info.json, keeping other datasets registered there."""
    info_path = out_dir / DATASET_INFO
    info: dict[str, Any] = {}
    if info_path.exists():
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ExportError(f"{info_path}: not valid JSON ({err}); fix or remove it") from err
    info[name] = dataset_info_entry(file_name)
    _write_json_atomic(info_path, info)
    return info_path


# ---------------------------------------------------------------- export


def _replace_shard_folder(partial: Path, final: Path) -> None:
    """Swap the finished shards in; refuse to delete a folder that holds anything but our shards."""
    if final.exists():
        foreign = [p.name for p in final.iterdir() if not (p.is_file() and p.name.startswith("train-"))]
        if foreign:
            raise ExportError(
                f"{final} holds files the export did not write ({foreign[:3]}); choose another --name"
            )
        shutil.rmtree(final)
    os.replace(partial, final)


def export(source: Any, out_dir: str | Path, options: ExportOptions | None = None) -> dict[str, Any]:
    """Export `source` to `out_dir`; returns (and writes) the summary."""
    opts = options or ExportOptions()
    if opts.max_tokens is not None and not opts.tokenizer:
        raise ExportError("max_tokens needs a tokenizer (the student's) to measure lengths in tokens")
    if not opts.name or "/" in opts.name or opts.name.startswith("."):
        raise ExportError(f"dataset name {opts.name!r} must be a plain, non-hidden folder name")
    started = time.monotonic()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    formatter = Formatter.create(opts.layout, opts.system)
    counter = TokenCounter(opts.tokenizer) if opts.tokenizer else None

    partial = out / f".{opts.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    writer = ShardWriter(partial, opts.format, opts.shard_rows)
    lengths: array = array("I")
    counts: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    try:
        for rows in iter_row_batches(source, opts.batch_size, need_verified=not opts.include_unverified):
            counts["rows_in"] += len(rows)
            kept = [r for r in rows if opts.include_unverified or r.get("verified") is True]
            counts["rows_unverified_skipped"] += len(rows) - len(kept)
            records = [formatter.record(r) for r in kept]
            measured = counter.count(records) if counter else char_count(records)
            lengths.extend(measured)
            if opts.max_tokens is not None:
                keep = [n <= opts.max_tokens for n in measured]
                counts["rows_too_long"] += keep.count(False)
                kept = [r for r, k in zip(kept, keep, strict=True) if k]
                records = [r for r, k in zip(records, keep, strict=True) if k]
            domains.update(str(r.get("domain")) for r in kept)
            sources.update(str(r.get("source")) for r in kept)
            writer.write(records)
            counts["rows_written"] += len(records)
        writer.close()
        _replace_shard_folder(partial, out / opts.name)
    except BaseException:
        writer.close()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    info_path = register_dataset(out, opts.name, opts.name)
    summary = {
        "name": opts.name,
        "input": str(source) if not hasattr(source, "column_names") else "<in-memory Dataset>",
        "dataset_dir": str(out),
        "dataset_info": str(info_path),
        "format": opts.format,
        "layout": opts.layout,
        "system_prompt": {
            "choice": opts.system if opts.system in ("openthoughts", "none") else "custom",
            "chars": len(formatter.system_prompt),
            "origin": formatter.origin,
        },
        "rows_in": counts["rows_in"],
        "rows_unverified_skipped": counts["rows_unverified_skipped"],
        "rows_too_long": counts["rows_too_long"],
        "rows_written": counts["rows_written"],
        "by_domain": dict(sorted(domains.items())),
        "by_source": dict(sorted(sources.items())),
        "shards": writer.shards,
        "length": {
            "unit": "tokens" if counter else "chars",
            "tokenizer": counter.name if counter else None,
            "chat_template": counter.has_template if counter else None,
            "max_tokens": opts.max_tokens,
            "measured_rows": "verified rows before the max_tokens filter",
            **stats(lengths),
            "histogram": histogram(lengths),
        },
        "elapsed_s": round(time.monotonic() - started, 3),
    }
    _write_json_atomic(out / f"{opts.name}.summary.json", summary)
    return summary
