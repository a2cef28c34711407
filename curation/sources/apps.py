"""codeparrot/apps: competitive-programming problems with JSON tests and solutions (TACO shares the layout).

Real layout: ``problem_id``, ``question``, ``solutions`` (JSON list of programs), ``input_output``
(JSON ``{"inputs", "outputs", "fn_name"?}``), ``difficulty``, ``url``, ``starter_code``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from thoughtmill.curation.sources.base import DROP, Source
from thoughtmill.curation.sources.filters import (
    CODE_MIN_CHARS,
    code_problem_reason,
    dump_tests,
    parse_solutions,
    parse_tests,
)
from thoughtmill.curation.sources.registry import register_source

from thoughtmill.hub import HubLocation


class AppsStyleSource(Source):
    """Shared conversion for the APPS/TACO layout: statement, JSON tests, JSON solutions, starter code."""

    domain = "code"
    required_columns: ClassVar[tuple[str, ...]] = ("question", "solutions", "input_output", "starter_code")
    not_null_columns: ClassVar[tuple[str, ...]] = ("question",)

    def __init__(self, *, min_problem_chars: int = CODE_MIN_CHARS, **kwargs: Any) -> None:
        self.min_problem_chars = min_problem_chars
        super().__init__(**kwargs)

    def image_reason(self, row: dict[str, Any]) -> str:
        """Extra image signal a layout may carry (TACO's ``picture_num``)."""
        return ""

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        problem = row["question"]
        reason = code_problem_reason(problem, self.min_problem_chars) or self.image_reason(row)
        tests, tests_reason = parse_tests(row["input_output"])
        solutions, solutions_reason = parse_solutions(row["solutions"])
        return {
            "problem": problem,
            "ground_truth_solution": solutions[0] if solutions else "",
            "test_cases": dump_tests(tests) if tests else "",
            "starter_code": row["starter_code"] or "",
            DROP: reason or tests_reason or solutions_reason,
        }


@register_source
class Apps(AppsStyleSource):
    """APPS. The Hub repo ships a loading script (refused by datasets>=4), so its JSONL files are read."""

    name = "apps"

    def hub(self, split: str) -> HubLocation:
        return HubLocation("codeparrot/apps", split, data_files=(f"{split}.jsonl",))
