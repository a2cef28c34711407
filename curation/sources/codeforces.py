"""MatrixStudio/Codeforces-Python-Submissions: one row per submission; accepted ones become problems.

Real layout (per submission): ``contestId``, ``index``, ``name``, ``rating``, ``tags``,
``problem-description``, ``input-specification``, ``output-specification``, ``demo-input``,
``demo-output`` (lists), ``note``, ``test_cases`` (list of ``{"input", "output"}``),
``programmingLanguage``, ``verdict`` ("OK" when accepted), ``code``, ``prompt``, ...
Several accepted submissions of one problem collapse to the first (its code is the reference solution).
"""

from __future__ import annotations

from typing import Any, ClassVar

import datasets
from thoughtmill.curation.sources.arrow import arrow_column
from thoughtmill.curation.sources.base import DROP, Source, SourceStats, first_occurrences
from thoughtmill.curation.sources.filters import CODE_MIN_CHARS, code_problem_reason, dump_tests
from thoughtmill.curation.sources.registry import register_source

from thoughtmill.hub import HubLocation

ACCEPTED = "OK"


def problem_text(row: dict[str, Any]) -> str:
    """The statement as published: description, input and output specifications, then the samples."""
    demo_in = "".join(row.get("demo-input") or [])
    demo_out = "".join(row.get("demo-output") or [])
    return (
        f"{row['problem-description']}\n{row['input-specification'] or ''}\n"
        f"{row['output-specification'] or ''}\nSample Input\n{demo_in}\nSample Output\n{demo_out}"
    )


def submission_tests(raw: Any) -> tuple[dict[str, Any] | None, str]:
    """A submission's ``test_cases`` list of ``{"input", "output"}`` as the uniform dict."""
    if not raw:
        return None, "no_tests"
    if not isinstance(raw, list) or not all(
        isinstance(t, dict) and "input" in t and "output" in t for t in raw
    ):
        return None, "malformed_tests"
    return {"inputs": [t["input"] for t in raw], "outputs": [t["output"] for t in raw]}, ""


@register_source
class Codeforces(Source):
    """Codeforces accepted Python submissions, one problem per statement."""

    name = "codeforces"
    domain = "code"
    required_columns: ClassVar[tuple[str, ...]] = (
        "verdict",
        "problem-description",
        "input-specification",
        "output-specification",
        "demo-input",
        "demo-output",
        "test_cases",
        "code",
    )
    not_null_columns: ClassVar[tuple[str, ...]] = ("problem-description",)

    def __init__(self, *, min_problem_chars: int = CODE_MIN_CHARS, **kwargs: Any) -> None:
        self.min_problem_chars = min_problem_chars
        super().__init__(**kwargs)

    def hub(self, split: str) -> HubLocation:
        return HubLocation("MatrixStudio/Codeforces-Python-Submissions", split)

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        problem = problem_text(row)
        code = row["code"] or ""
        tests: dict[str, Any] | None = None
        if row["verdict"] != ACCEPTED:
            reason = "not_accepted"
        else:
            tests, tests_reason = submission_tests(row["test_cases"])
            reason = (
                code_problem_reason(problem, self.min_problem_chars)
                or tests_reason
                or ("" if code.strip() else "no_solution")
            )
        return {
            "problem": problem,
            "ground_truth_solution": code,
            "test_cases": dump_tests(tests) if tests and not reason else "",
            "starter_code": "",
            DROP: reason,
        }

    def postprocess(self, ds: datasets.Dataset, stats: SourceStats) -> datasets.Dataset:
        """Keep the first accepted submission of each statement."""
        keep = first_occurrences(arrow_column(ds, "problem"))
        stats.drop("duplicate_submission", len(ds) - len(keep))
        return ds.select(keep) if len(keep) != len(ds) else ds
