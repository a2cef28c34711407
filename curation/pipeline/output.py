"""The write stage: the verified set ("metadata" and "default" layouts) and the unverified set.

    output/metadata/train-*.parquet     verified rows, published metadata columns (+ id, teacher, verdict)
    output/default/train-*.parquet      verified rows as system + conversations (training format)
    output/unverified/train-*.parquet   every generated row with verified / verdict / verification_detail
    output/disk/<layout>/               the same three sets as ``save_to_disk`` folders

The input is read once, record batch by record batch, with plain file reads (``pa.OSFile``, no memory
map), and every batch goes to all six outputs at once: memory stays at a few batches whatever the
size of the run, and the input's pages are not left mapped in the process.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from thoughtmill.curation.datasets_io import DATA_FILE, read_batches, write_dataset_metadata
from thoughtmill.curation.errors import CurationError
from thoughtmill.curation.pipeline.counts import counts_by_group, read_columns
from thoughtmill.curation.pipeline.stage import Stage, load_dataset_at
from thoughtmill.curation.prompts import training_conversation
from thoughtmill.curation.schema import METADATA_COLUMNS

EXTRA_VERIFIED_COLUMNS = ("id", "sample_index", "teacher", "verified", "verdict", "verification_detail")
DEFAULT_FEATURES = datasets.Features(
    {
        "system": datasets.Value("string"),
        "conversations": [{"from": datasets.Value("string"), "value": datasets.Value("string")}],
    }
)
#: A Parquet row group: about this many bytes of Arrow data, at most ``ROW_GROUP_MOST`` rows (held and
#: encoded in memory, so a small set and a large one peak at the same memory).
ROW_GROUP_BYTES = 32 << 20
ROW_GROUP_MOST = 5_000


def _to_conversations(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    keys = list(batch)
    systems, conversations = [], []
    for values in zip(*(batch[k] for k in keys)):
        example = training_conversation(dict(zip(keys, values)))
        systems.append(example["system"])
        conversations.append(example["conversations"])
    return {"system": systems, "conversations": conversations}


def in_set(batch: pa.RecordBatch | pa.Table, metadata_only: list[str]) -> pa.Array:
    """Which rows go into the set: verified ones, and every answer of a domain whose verdict is
    metadata only (``stages.verify.<domain>.as_filter: false``)."""
    verified = pc.fill_null(batch.column("verified"), False)
    if not metadata_only:
        return verified
    return pc.or_(verified, pc.fill_null(pc.is_in(batch.column("domain"), pa.array(metadata_only)), False))


class WriteStage(Stage):
    name = "write"

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        ds = load_dataset_at(input_path, what="write")
        out = self.ctx.run.output
        out.mkdir(parents=True, exist_ok=True)
        metadata_only = self.ctx.config.stages.verify.metadata_only()
        verified_rows = (
            int(pc.sum(in_set(read_columns(ds, ["verified", "domain"]), metadata_only)).as_py() or 0)
            if len(ds)
            else 0
        )
        meta_cols = [c for c in (*METADATA_COLUMNS, *EXTRA_VERIFIED_COLUMNS) if c in ds.column_names]
        features = {
            "metadata": datasets.Features({c: ds.features[c] for c in meta_cols}),
            "default": DEFAULT_FEATURES,
            "unverified": ds.features,
        }
        rows = {"metadata": verified_rows, "default": verified_rows, "unverified": len(ds)}
        sinks = {
            layout: LayoutSink(out, layout, features[layout], rows[layout], self.config.formats, self.config.rows_per_file)
            for layout in features
        }  # fmt: skip
        written, beat = 0, self.ctx.run.heartbeat  # progress: status, plain lines off a TTY
        try:
            for batch in read_batches(ds):
                written += batch.num_rows
                beat.stage_progress(self.name, written, len(ds))
                verified = batch.filter(in_set(batch, metadata_only))
                sinks["metadata"].write(verified.select(meta_cols))
                if verified.num_rows:
                    sinks["default"].write(
                        pa.RecordBatch.from_pydict(_to_conversations(verified.to_pydict()))
                    )
                sinks["unverified"].write(batch)
            files = {layout: sink.close() for layout, sink in sinks.items()}
        finally:
            for sink in sinks.values():
                sink.abort()
        files = {
            layout: [self.ctx.run.relative(p) for p in paths] for layout, paths in files.items() if paths
        }
        summary = {
            "rows": len(ds),
            "verified_rows": verified_rows,
            "verdict_as_metadata": metadata_only,
            "output": self.ctx.run.relative(out),
            "files": files,
            "counts": counts_by_group(ds, flag="verified"),
            "pushed_to": self.config.push_to_hub,
        }
        if self.config.push_to_hub:
            self._push(out)
            self._push_card(out, summary)
        return input_path, summary

    def _push_card(self, out: Path, summary: dict[str, Any]) -> None:
        """The dataset card goes up last, as the repo's README.md (pushing a layout rewrites it), written
        here from the summaries so far: the card stage, which runs after, writes the same text locally."""
        card = self.ctx.config.stages.card
        if not card.enabled:
            return
        from huggingface_hub import HfApi
        from thoughtmill.curation.card import render_card

        summaries = {**self.ctx.run.summaries(), self.name: summary}
        readme = out / "README.md"
        readme.write_text(render_card(self.ctx.config.name, summaries, title=card.title))
        repo = self.config.push_to_hub
        try:
            HfApi().upload_file(
                path_or_fileobj=str(readme), path_in_repo="README.md", repo_id=repo, repo_type="dataset"
            )
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CurationError(
                f"write: uploading the dataset card {readme} to the Hub dataset {repo!r} failed "
                f"({type(exc).__name__}: {reason}); the data is pushed; run the same command again"
            ) from exc

    def _push(self, out: Path) -> None:
        """Push the three layouts as configs of one Hub dataset (as OpenThoughts-114k is).

        A failed push (no network, no token, no rights) stops the stage with what to do; the files
        are already written, and a re-run redoes only this stage.
        """
        repo = self.config.push_to_hub
        self.ctx.echo(f"  pushing to https://huggingface.co/datasets/{repo}")
        for layout in ("default", "metadata", "unverified"):  # unverified: every row, for other filters
            if (out / "disk" / layout).exists():
                data = datasets.load_from_disk(str(out / "disk" / layout))
            else:
                data = datasets.Dataset.from_parquet(sorted(str(p) for p in (out / layout).glob("*.parquet")))
            try:
                data.push_to_hub(repo, config_name=layout, private=self.config.private)
            except Exception as exc:
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise CurationError(
                    f"write: pushing the '{layout}' layout to the Hub dataset {repo!r} failed "
                    f"({type(exc).__name__}: {reason}). The verified set is written under {out}. "
                    "Check the network and a token with write access (HF_TOKEN or `hf auth login`), "
                    "then run the same command again: finished stages are skipped and only the write "
                    "stage runs again; or set stages.write.push_to_hub to null and push the folder yourself."
                ) from exc


class LayoutSink:
    """One layout's outputs: Parquet shards (split as ``Dataset.shard(contiguous=True)`` would) and a
    ``save_to_disk`` folder, fed batch by batch."""

    def __init__(
        self,
        out: Path,
        layout: str,
        features: datasets.Features,
        rows: int,
        formats: list[str],
        rows_per_file: int,
    ) -> None:
        self.schema = features.arrow_schema
        self.features = features
        self.parquet = "parquet" in formats
        self.folder = out / layout
        self.paths: list[str] = []
        self._buffer: list[pa.RecordBatch] = []
        self._writer: pq.ParquetWriter | None = None
        shards = max(1, math.ceil(rows / rows_per_file))
        self._sizes = [rows // shards + (1 if k < rows % shards else 0) for k in range(shards)]
        self._left = 0
        if self.parquet:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            self._next_shard()
        self.disk: Path | None = None
        self._disk_sink: Any = None
        self._disk_writer: pa.ipc.RecordBatchStreamWriter | None = None
        if "disk" in formats:
            self.disk = out / "disk" / layout
            staging = self._staging()
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            self._disk_sink = pa.OSFile(str(staging / DATA_FILE), "wb")
            self._disk_writer = pa.ipc.new_stream(self._disk_sink, self.schema)

    def _staging(self) -> Path:
        assert self.disk is not None
        return self.disk.with_name(self.disk.name + ".tmp")

    def _next_shard(self) -> None:
        if self._writer is not None:
            self._flush()
            self._writer.close()
        index, shards = len(self.paths), len(self._sizes)
        path = self.folder / f"train-{index:05d}-of-{shards:05d}.parquet"
        self._writer = pq.ParquetWriter(str(path), self.schema)
        self.paths.append(str(path))
        self._left = self._sizes[index]

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        if self._disk_writer is not None:
            self._disk_writer.write_batch(batch)
        if not self.parquet:
            return
        while batch.num_rows:
            if self._left == 0:
                self._next_shard()
            part = batch.slice(0, self._left)
            batch = batch.slice(part.num_rows)
            self._left -= part.num_rows
            self._buffer.append(part)
            buffered = sum(b.num_rows for b in self._buffer)
            if buffered >= ROW_GROUP_MOST or sum(b.nbytes for b in self._buffer) >= ROW_GROUP_BYTES:
                self._flush()

    def _flush(self) -> None:
        if self._buffer and self._writer is not None:
            self._writer.write_table(
                pa.Table.from_batches(self._buffer, schema=self.schema), row_group_size=1 << 30
            )
        self._buffer = []

    def close(self) -> list[str]:
        """Finish every output; returns the Parquet paths."""
        if self._writer is not None:
            self._flush()
            self._writer.close()
            self._writer = None
            while len(self.paths) < len(self._sizes):  # shards of an empty set: schema-only files
                self._next_shard()
                self._writer.close()
                self._writer = None
        if self._close_disk_writer():
            staging = self._staging()
            write_dataset_metadata(staging, DATA_FILE)
            assert self.disk is not None
            shutil.rmtree(self.disk, ignore_errors=True)
            staging.rename(self.disk)
        return self.paths if self.parquet else []

    def abort(self) -> None:
        """Release open files after a failure (no-op once closed)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._close_disk_writer():
            shutil.rmtree(self._staging(), ignore_errors=True)

    def _close_disk_writer(self) -> bool:
        """Close the save_to_disk stream if one is open; says whether one was."""
        if self._disk_writer is None:
            return False
        self._disk_writer.close()
        self._disk_sink.close()
        self._disk_writer = None
        return True


class CardStage(Stage):
    """Write the dataset card next to the data (``output/README.md``)."""

    name = "card"

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        from thoughtmill.curation.card import render_card

        if not self.config.enabled:
            return input_path, {"enabled": False}
        out = self.ctx.run.output
        out.mkdir(parents=True, exist_ok=True)
        text = render_card(self.ctx.config.name, self.ctx.run.summaries(), title=self.config.title)
        (out / "README.md").write_text(text)
        return input_path, {"card": self.ctx.run.relative(out / "README.md")}
