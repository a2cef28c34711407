"""The generation stage: ``samples_per_question`` teacher requests per problem through the engine (cached,
resumable); every answer is its own row, numbered by ``sample_index``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
from thoughtmill.curation.datasets_io import read_rows
from thoughtmill.curation.errors import CurationError
from thoughtmill.curation.generate import SAMPLE_COLUMN, GenerateTraces
from thoughtmill.curation.pipeline.config import GenerateConfig
from thoughtmill.curation.pipeline.counts import counts_by_group, subtract, total
from thoughtmill.curation.pipeline.stage import Stage, load_dataset_at
from thoughtmill.curation.teachers import resolve_teacher


class SampledRows:
    """Each question row repeated once per answer it gets, with ``sample_index`` 0..k-1 (read lazily;
    the expanded set is never written out)."""

    def __init__(self, ds: datasets.Dataset, config: GenerateConfig) -> None:
        self.ds = ds
        self.config = config
        self.questions = counts_by_group(ds)
        #: answers per question, for each domain present in the input
        self.per_domain = {domain: config.samples_for(domain) for domain in self.questions}

    def __len__(self) -> int:
        return total(self.expected())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in read_rows(self.ds):
            for k in range(self.config.samples_for(row.get("domain") or "")):
                yield {**row, SAMPLE_COLUMN: k}

    def expected(self) -> dict[str, dict[str, int]]:
        """``{domain: {source: answers asked for}}``."""
        return {
            domain: {source: n * self.per_domain[domain] for source, n in per_source.items()}
            for domain, per_source in self.questions.items()
        }


class GenerateStage(Stage):
    """Rows whose request failed are left out and counted; the stage stays "incomplete" so the next
    ``run`` asks again for those rows only (everything answered comes back from the cache)."""

    name = "generate"
    shardable = True

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        ds = load_dataset_at(input_path, what="generate")
        teacher = resolve_teacher(self.config.teacher, "stages.generate.teacher")
        llm = GenerateTraces(
            teacher,
            working_dir=self.ctx.run.cache_root,
            earlier_caches=self.ctx.run.earlier_caches(self.name),
            name="generate",
            max_in_flight=self.config.max_in_flight,
            progress=self.config.progress,
            backend=self.ctx.backend_for(teacher),
            budget_usd=shard_budget(self.ctx.config.budget_usd, self.ctx.executor.shards),
            on_progress=self.ctx.run.heartbeat.engine_listener(self.name),
        )
        rows = SampledRows(ds, self.config)
        out = llm(rows, output_dir=self.dir / "engine")
        assert llm.last_run is not None
        paths = llm.last_run.paths
        failed = subtract(rows.expected(), counts_by_group(out))
        summary: dict[str, Any] = {
            "rows": len(out),
            "questions": len(ds),
            # per group, so shard summaries add up (answers asked / questions = samples per question)
            "question_counts": rows.questions,
            "asked": rows.expected(),
            "teacher": teacher.label,
            "model": teacher.model,
            "engine": llm.stats,
            "failures_file": self.ctx.run.relative(paths.failures),
            "counts": counts_by_group(out),
            "failed": failed,
            "incomplete": total(failed) > 0,
        }
        if llm.last_run.stats.not_sent_budget:
            hint = budget_hint(self.ctx.config.run_dir, llm.last_run.stats)
            if len(out) == 0:
                raise CurationError(hint.strip())
            self.ctx.echo(hint)
        if len(out) == 0:
            raise CurationError(
                f"generate: every one of {len(rows)} requests to teacher '{teacher.label}' failed; "
                f"first failure: {_first_failure(paths.failures)} (all in {paths.failures})"
            )
        return paths.dataset, summary


def _first_failure(path: Path) -> str:
    try:
        with open(path) as handle:
            record = json.loads(handle.readline())
        return f"row {record['row']}: {record['error']}"
    except (OSError, ValueError, KeyError):
        return "unknown"


def shard_budget(budget_usd: float | None, shards: int) -> float | None:
    """Each shard's engine gets an equal part of the run's cap (all of it when not sharded)."""
    return None if budget_usd is None else budget_usd / max(1, shards)


def budget_hint(run_dir: str, stats: Any) -> str:
    """How to finish a generation the run's ``budget_usd`` stopped."""
    projected = stats.projected_cost() or 0.0
    higher = f"{projected * 1.1:.2f}" if projected > stats.budget_usd else "<more dollars>"
    return (
        f"  generate stopped by budget_usd=${stats.budget_usd:.2f}: {stats.not_sent_budget} request(s) not sent "
        f"(${stats.total_cost_usd:.4f} spent on this run's answers); to finish, raise the cap: "
        f"thoughtmill run {run_dir} budget_usd={higher}"
    )
