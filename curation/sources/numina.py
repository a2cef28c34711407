"""AI-MO/NuminaMath-CoT: competition math with worked solutions ending in a boxed answer.

Real layout: ``source`` (subset: ``amc_aime``, ``olympiads``, ``aops_forum``, ``math``, ``cn_k12``, ...),
``problem``, ``solution``, ``messages``. OpenThoughts keeps four subsets and drops figure/image
problems, answers given in the statement, multi-part problems and solutions without a boxed answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from thoughtmill.curation.sources.base import DROP, Source
from thoughtmill.curation.sources.filters import math_problem_reason
from thoughtmill.curation.sources.registry import register_source

from thoughtmill.hub import HubLocation

PUBLISHED_SUBSETS = ("amc_aime", "olympiads", "aops_forum", "math")


@register_source
class NuminaMath(Source):
    """NuminaMath-CoT, published subsets and filters; the worked solution is the ground truth."""

    name = "numina_math"
    domain = "math"
    required_columns: ClassVar[tuple[str, ...]] = ("source", "problem", "solution")
    not_null_columns: ClassVar[tuple[str, ...]] = ("problem",)

    def __init__(self, *, subsets: Sequence[str] = PUBLISHED_SUBSETS, **kwargs: Any) -> None:
        self.subsets = frozenset(subsets)
        super().__init__(**kwargs)

    def hub(self, split: str) -> HubLocation:
        return HubLocation("AI-MO/NuminaMath-CoT", split)

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        problem, solution = row["problem"], row["solution"]
        reason = (
            "other_subset" if row["source"] not in self.subsets else math_problem_reason(problem, solution)
        )
        return {"problem": problem, "ground_truth_solution": solution or "", DROP: reason}
