"""INK-USC/riddle_sense: riddles with five lettered choices and an answer-key letter.

Real layout: ``answerKey`` ("A".."E", empty in the unlabeled test split), ``question``,
``choices`` (``{"label": [...], "text": [...]}``). The choices are written into the problem as
``A: ...`` lines (as published); the answer letter is the ground truth.
"""

from __future__ import annotations

from typing import Any, ClassVar

import datasets
from thoughtmill.curation.sources.base import DROP, Source, SourceStats
from thoughtmill.curation.sources.registry import register_source

from thoughtmill.hub import HubLocation

#: OpenThoughts took 1,250 riddles (shuffled with seed 42).
PUBLISHED_SAMPLE = 1250
PUBLISHED_SEED = 42


def riddle_problem(question: str, labels: list[str], texts: list[str]) -> str:
    """The question followed by one ``LABEL: text`` line per choice."""
    return question + "".join(f"\n{label}: {text}" for label, text in zip(labels, texts, strict=True))


@register_source
class RiddleSense(Source):
    """RiddleSense puzzles; ``sample`` rows are drawn with ``seed`` after filtering (None keeps all)."""

    name = "riddle_sense"
    domain = "puzzle"
    required_columns: ClassVar[tuple[str, ...]] = ("question", "answerKey", "choices")
    not_null_columns: ClassVar[tuple[str, ...]] = ("question",)

    def __init__(
        self, *, sample: int | None = PUBLISHED_SAMPLE, seed: int = PUBLISHED_SEED, **kwargs: Any
    ) -> None:
        self.sample = sample
        self.seed = seed
        super().__init__(**kwargs)

    def hub(self, split: str) -> HubLocation:
        # The repo's loading script is refused by datasets>=4: read the Hub's parquet export instead.
        files = (f"default/{split}/*.parquet",)
        return HubLocation("INK-USC/riddle_sense", split, data_files=files, revision="refs/convert/parquet")

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        choices = row["choices"] or {}
        labels, texts = list(choices.get("label") or []), list(choices.get("text") or [])
        key = (row["answerKey"] or "").strip()
        if not labels or len(labels) != len(texts):
            reason = "no_choices"
        elif not key:
            reason = "no_answer_key"
        elif key not in labels:
            reason = "bad_answer_key"
        else:
            reason = ""
        problem = (
            row["question"] if reason == "no_choices" else riddle_problem(row["question"], labels, texts)
        )
        return {"problem": problem, "ground_truth_solution": key, DROP: reason}

    def postprocess(self, ds: datasets.Dataset, stats: SourceStats) -> datasets.Dataset:
        if self.sample is None or len(ds) <= self.sample:
            return ds
        stats.drop("not_sampled", len(ds) - self.sample)
        return ds.shuffle(seed=self.seed).select(range(self.sample)).flatten_indices()
