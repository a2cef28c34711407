"""The problem stages: sources (adapters merged), near-duplicate removal, benchmark decontamination."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
from thoughtmill.curation.decontaminate import decontaminate, load_benchmarks
from thoughtmill.curation.dedup import deduplicate
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.pipeline.counts import counts_by_group
from thoughtmill.curation.pipeline.stage import Stage, load_dataset_at, save_dataset
from thoughtmill.curation.sources import load_source
from thoughtmill.curation.sources.local import data_files
from thoughtmill.curation.utf8 import check_utf8


class SourcesStage(Stage):
    """Load every configured source through its adapter (published filters), cap, and merge."""

    name = "sources"

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        parts: list[datasets.Dataset] = []
        per_source: dict[str, Any] = {}
        for number, spec in enumerate(self.config.sources):
            self.ctx.run.heartbeat.stage_progress(self.name, number, len(self.config.sources), unit="sources")
            self.ctx.echo(f"  source {spec.name} ({spec.path or 'hub'})")
            if spec.path:
                check_text_files(spec.path)
            ds, stats = load_source(
                spec.name,
                spec.path,
                split=spec.split,
                limit=spec.limit,
                streaming=spec.streaming,
                **spec.options,
            )
            record = stats.to_dict()
            cap = self.config.limit_per_source
            if cap is not None and len(ds) > cap:
                record["dropped"] = {**record["dropped"], "limit_per_source": len(ds) - cap}
                ds = ds.select(range(cap))
            record["kept"] = len(ds)
            key = stats.source if stats.source not in per_source else f"{stats.source}#{len(per_source)}"
            per_source[key] = record
            parts.append(ds)
        merged = datasets.concatenate_datasets(parts)
        if len(merged) == 0:
            raise InputError(
                "sources: every configured source came out empty after its filters; nothing to do"
            )
        path = save_dataset(merged, self.dir / "dataset")
        return path, {"rows": len(merged), "per_source": per_source, "counts": counts_by_group(merged)}


class DedupStage(Stage):
    """Drop exact and near-duplicate problems (fuzzy ratio, MinHash-LSH candidates)."""

    name = "dedup"

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        ds = load_dataset_at(input_path, what="dedup")
        if not self.config.enabled:
            return input_path, {"enabled": False, "rows": len(ds), "counts": counts_by_group(ds)}
        kept, stats = deduplicate(
            ds, self.config.column, threshold=self.config.threshold, by=self.config.by,
            source=input_path, shards=self.ctx.executor.shards, map_shards=self.ctx.executor.map,
            progress=heartbeat_progress(self),
        )  # fmt: skip
        path = save_dataset(kept, self.dir / "dataset")
        return path, {"rows": len(kept), "stats": stats.to_dict(), "counts": counts_by_group(kept)}


class DecontaminateStage(Stage):
    """Drop problems matching AIME24/25, AMC23, MATH500, GPQA-Diamond or LiveCodeBench problems."""

    name = "decontaminate"

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        ds = load_dataset_at(input_path, what="decontaminate")
        if not self.config.enabled or not self.config.benchmarks:
            return input_path, {"enabled": False, "rows": len(ds), "counts": counts_by_group(ds)}
        for path in self.config.local_files.values():
            check_text_files(path)
        benchmarks = load_benchmarks(self.config.benchmarks, local_files=self.config.local_files)
        kept, stats = decontaminate(
            ds,
            benchmarks,
            method=self.config.method,
            threshold=self.config.threshold,
            ngram=self.config.ngram,
            progress=heartbeat_progress(self),
        )
        if len(kept) == 0:
            raise InputError("decontaminate: every problem matched a benchmark; nothing left to generate")
        path = save_dataset(kept, self.dir / "dataset")
        return path, {"rows": len(kept), "stats": stats.to_dict(), "counts": counts_by_group(kept)}


def check_text_files(path: str) -> None:
    """Every text data file a local path stands for is UTF-8 (else an InputError naming file and line)."""
    if Path(path).exists():
        for file in data_files(Path(path)):
            check_utf8(file, InputError)


def heartbeat_progress(stage: Stage) -> Callable[[int, int], None]:
    """A ``(done, total)`` callback that feeds a stage's progress to the run's heartbeat."""
    return lambda done, total: stage.ctx.run.heartbeat.stage_progress(stage.name, done, total)
