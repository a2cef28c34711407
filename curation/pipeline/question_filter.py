"""What the question filters share: score each question of some domains with a model through the engine
(cached, so a re-run or a resumed run pays only for what is missing), then keep the best-scoring
questions of each domain by one rule (top fraction, top N or threshold).

A filter stage subclasses ``QuestionFilterStage``: it names its score ``column`` and its ``scorer``, an
engine ``LLM`` whose ``parse`` returns ``{"_position": ..., "score": ...}``. Rows of other domains pass through
untouched; a question whose scoring request failed is left out and the stage stays "incomplete", so
the next run asks again for those questions only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import datasets
import numpy as np
from thoughtmill.curation.datasets_io import read_rows
from thoughtmill.curation.engine import LLM
from thoughtmill.curation.pipeline.config import KeepRule, QuestionFilterConfig
from thoughtmill.curation.pipeline.counts import counts_by_group, read_columns
from thoughtmill.curation.pipeline.stage import Stage, load_dataset_at, save_dataset
from thoughtmill.curation.teachers import resolve_teacher

#: The columns a scoring model sees of a question.
QUESTION_COLUMNS = ("problem", "domain", "source", "starter_code", "test_cases")


def keep_mask(
    domains: np.ndarray, scores: np.ndarray, scope: np.ndarray, rule_for: Callable[[str], KeepRule]
) -> np.ndarray:
    """Which rows to keep: every row outside ``scope``; within it, per domain, the scored rows (NaN =
    not scored: dropped) the domain's rule picks. Ties are broken by position, so the choice is
    reproducible."""
    keep = ~scope
    for domain in np.unique(domains[scope]):
        rule = rule_for(str(domain))
        rows = np.flatnonzero(scope & (domains == domain))
        scored = rows[~np.isnan(scores[rows])]
        if rule.threshold is not None:
            chosen = scored[scores[scored] >= rule.threshold]
        else:
            wanted = rule.top_n if rule.top_n is not None else math.ceil(rule.top_fraction * len(rows))
            order = np.lexsort((scored, -scores[scored]))  # best score first, then earlier row
            chosen = scored[order[:wanted]]
        keep[chosen] = True
    return keep


class QuestionFilterStage(Stage):
    """Score the questions of ``config.domains`` and keep the best of each domain."""

    #: the column the score (an integer) is written to; null for rows of other domains
    column: ClassVar[str]
    config: QuestionFilterConfig

    #: the engine LLM that scores one question row (its parse returns ``_position`` and ``score``)
    scorer: ClassVar[type[LLM]]

    def scorer_options(self) -> dict[str, Any]:
        """Keyword arguments of the scorer beyond the engine's own."""
        return {}

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        ds = load_dataset_at(input_path, what=self.name)
        if not self.config.enabled:
            return input_path, {"enabled": False, "rows": len(ds), "counts": counts_by_group(ds)}
        domains = np.array(read_columns(ds, ["domain"]).column(0).to_pylist(), dtype=object)
        scope = np.isin(domains, self.config.domains)
        scores = np.full(len(ds), np.nan)
        engine: dict[str, Any] = {}
        if scope.any():
            teacher = resolve_teacher(self.config.teacher, f"stages.{self.name}.teacher")  # type: ignore[arg-type]
            llm = self.scorer(
                teacher,
                working_dir=self.ctx.run.cache_root,
                earlier_caches=self.ctx.run.earlier_caches(self.name),
                name=self.name,
                max_in_flight=self.config.max_in_flight,
                progress=self.config.progress,
                backend=self.ctx.backend_for(teacher),  # the run's shared budget for this teacher, if any
                **self.scorer_options(),
            )
            out = llm(_ScopedRows(ds, scope), output_dir=self.dir / "engine")
            for batch in out.iter(batch_size=4096):
                scores[np.asarray(batch["_position"], dtype=np.int64)] = np.asarray(batch["score"], float)
            engine = llm.stats
        keep = keep_mask(domains, scores, scope, self.config.rule_for)
        unscored = int(np.count_nonzero(scope & np.isnan(scores)))
        column = [None if np.isnan(s) else int(s) for s in scores[keep]]
        kept = ds.select(np.flatnonzero(keep))
        kept = kept.remove_columns([self.column]) if self.column in kept.column_names else kept
        kept = kept.add_column(self.column, column, feature=datasets.Value("int64"))
        path = save_dataset(kept, self.dir / "dataset")
        return path, {
            "enabled": True,
            "rows": len(kept),
            "scored": int(np.count_nonzero(scope)) - unscored,
            "unscored": unscored,
            "dropped": int(np.count_nonzero(~keep)) - unscored,
            "scores": _score_stats(domains, scores, scope, keep),
            "engine": engine,
            "counts": counts_by_group(kept),
            "incomplete": unscored > 0,
        }


class _ScopedRows:
    """The in-scope question rows, with their position in the input (what the scores are matched on)."""

    def __init__(self, ds: datasets.Dataset, scope: np.ndarray) -> None:
        self.ds = ds
        self.scope = scope

    def __len__(self) -> int:
        return int(np.count_nonzero(self.scope))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        columns = [c for c in QUESTION_COLUMNS if c in self.ds.column_names]
        for position, row in enumerate(read_rows(self.ds, columns=columns)):
            if self.scope[position]:
                yield {**row, "_position": position}


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _score_stats(
    domains: np.ndarray, scores: np.ndarray, scope: np.ndarray, keep: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Per domain: how the scores spread and the lowest score kept (the effective threshold)."""
    stats: dict[str, dict[str, Any]] = {}
    for domain in sorted(np.unique(domains[scope])):
        mine = scope & (domains == domain) & ~np.isnan(scores)
        if not mine.any():
            continue
        values, kept = scores[mine], scores[mine & keep]
        stats[str(domain)] = {
            "min": _plain(values.min()),
            "median": _plain(float(np.median(values))),
            "max": _plain(values.max()),
            "lowest_kept": _plain(kept.min()) if len(kept) else None,
            "kept": len(kept),
            "of": int(mine.sum()),
        }
    return stats
