"""The write stage: the verified set ("metadata" and "default" layouts) and the unverified set.

    output/metadata/train-*.parquet     verified rows, published metadata columns (+ id, teacher, verdict)
    output/default/train-*.parquet      verified rows as system + conversations (training format)
    output/unverified/train-*.parquet   every generated row with verified / verdict / verification_detail
    output/disk/<layout>/               the same three sets as ``save_to_disk`` folders
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import datasets

from curation.pipeline.counts import counts_by_group
from curation.pipeline.stage import Stage, load_dataset_at, save_dataset
from curation.prompts import training_conversation
from curation.schema import METADATA_COLUMNS

EXTRA_VERIFIED_COLUMNS = ("id", "teacher", "verified", "verdict", "verification_detail")
DEFAULT_FEATURES = datasets.Features(
    {
        "system": datasets.Value("string"),
        "conversations": [{"from": datasets.Value("string"), "value": datasets.Value("string")}],
    }
)


def _to_conversations(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    keys = list(batch)
    systems, conversations = [], []
    for values in zip(*(batch[k] for k in keys)):
        example = training_conversation(dict(zip(keys, values)))
        systems.append(example["system"])
        conversations.append(example["conversations"])
    return {"system": systems, "conversations": conversations}


class WriteStage(Stage):
    name = "write"

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        ds = load_dataset_at(input_path, what="write")
        out = self.ctx.run.output
        out.mkdir(parents=True, exist_ok=True)
        work = self.dir
        work.mkdir(parents=True, exist_ok=True)
        verified = ds.filter(
            lambda flags: flags, input_columns=["verified"], batched=True, batch_size=10_000,
            cache_file_name=str(work / "verified-indices.arrow"), load_from_cache_file=False,
        )  # fmt: skip
        meta_cols = [c for c in (*METADATA_COLUMNS, *EXTRA_VERIFIED_COLUMNS) if c in ds.column_names]
        layouts = {
            "metadata": verified.select_columns(meta_cols),
            "default": verified.map(
                _to_conversations, batched=True, batch_size=500, remove_columns=verified.column_names,
                features=DEFAULT_FEATURES, cache_file_name=str(work / "default.arrow"), load_from_cache_file=False,
            ),
            "unverified": ds,
        }
        files: dict[str, list[str]] = {}
        for layout, data in layouts.items():
            if "parquet" in self.config.formats:
                files[layout] = self._parquet(data, out / layout)
            if "disk" in self.config.formats:
                save_dataset(data.flatten_indices() if layout != "unverified" else data, _fresh(out / "disk") / layout)
        if self.config.push_to_hub:
            self._push(layouts)
        return input_path, {
            "rows": len(ds),
            "verified_rows": len(verified),
            "output": str(out),
            "files": files,
            "counts": counts_by_group(verified),
            "pushed_to": self.config.push_to_hub,
        }

    def _parquet(self, data: datasets.Dataset, folder: Path) -> list[str]:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shards = max(1, math.ceil(len(data) / self.config.rows_per_file))
        paths = []
        for index in range(shards):
            path = folder / f"train-{index:05d}-of-{shards:05d}.parquet"
            data.shard(shards, index, contiguous=True).to_parquet(str(path), batch_size=_row_group_rows(data))
            paths.append(str(path))
        return paths

    def _push(self, layouts: dict[str, datasets.Dataset]) -> None:
        repo = self.config.push_to_hub
        self.ctx.echo(f"  pushing to https://huggingface.co/datasets/{repo}")
        for layout in ("default", "metadata"):
            layouts[layout].push_to_hub(repo, config_name=layout, private=self.config.private)


def _row_group_rows(data: datasets.Dataset, target_bytes: int = 32 << 20, most: int = 5_000) -> int:
    """Rows per Parquet row group: about ``target_bytes`` of Arrow data, at most ``most`` rows.

    ``datasets`` otherwise sizes one row group (held and encoded in memory) by the whole set, up to
    100 MB, so writing a small set and a large one would peak at very different memory.
    """
    per_row = data.data.nbytes / max(data.data.num_rows, 1)
    return max(1, min(most, int(target_bytes / max(per_row, 1))))


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class CardStage(Stage):
    """Write the dataset card next to the data (``output/README.md``)."""

    name = "card"

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        from curation.card import render_card

        if not self.config.enabled:
            return input_path, {"enabled": False}
        out = self.ctx.run.output
        out.mkdir(parents=True, exist_ok=True)
        text = render_card(self.ctx.config.name, self.ctx.run.summaries(), title=self.config.title)
        (out / "README.md").write_text(text)
        return input_path, {"card": str(out / "README.md")}
