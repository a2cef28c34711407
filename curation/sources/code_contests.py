"""deepmind/code_contests: statements with public, private and generated tests, which are merged.

Real layout: ``name``, ``description``, ``public_tests``/``private_tests``/``generated_tests``
(``{"input": [...], "output": [...]}``), ``solutions`` (``{"language": [int], "solution": [str]}``,
language ids 0 unknown, 1 Python 2, 2 C++, 3 Python 3, 4 Java), ``source``, ``difficulty``, ``cf_*``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from thoughtmill.curation.sources.base import DROP, Source
from thoughtmill.curation.sources.filters import CODE_MIN_CHARS, code_problem_reason, dump_tests
from thoughtmill.curation.sources.registry import register_source

from thoughtmill.hub import HubLocation

PYTHON3, PYTHON2 = 3, 1
TEST_COLUMNS = ("public_tests", "private_tests", "generated_tests")


def merge_tests(row: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """Public + private + generated tests as one ``{"inputs", "outputs"}`` (a null test set counts as empty)."""
    inputs: list[str] = []
    outputs: list[str] = []
    for column in TEST_COLUMNS:
        tests = row.get(column) or {}
        ins, outs = tests.get("input") or [], tests.get("output") or []
        if len(ins) != len(outs):
            return None, "malformed_tests"
        inputs.extend(ins)
        outputs.extend(outs)
    return ({"inputs": inputs, "outputs": outputs}, "") if inputs else (None, "no_tests")


def reference_solution(solutions: dict[str, Any] | None) -> str:
    """A Python 3 solution when there is one, else Python 2, else the first; "" when there are none."""
    solutions = solutions or {}
    languages, programs = solutions.get("language") or [], solutions.get("solution") or []
    pairs = [(lang, prog) for lang, prog in zip(languages, programs, strict=False) if prog and prog.strip()]
    for wanted in (PYTHON3, PYTHON2):
        for lang, prog in pairs:
            if lang == wanted:
                return prog
    return pairs[0][1] if pairs else ""


@register_source
class CodeContests(Source):
    """CodeContests, tests merged, published code filters applied."""

    name = "code_contests"
    domain = "code"
    required_columns: ClassVar[tuple[str, ...]] = ("name", "description", *TEST_COLUMNS, "solutions")
    not_null_columns: ClassVar[tuple[str, ...]] = ("description",)

    def __init__(self, *, min_problem_chars: int = CODE_MIN_CHARS, **kwargs: Any) -> None:
        self.min_problem_chars = min_problem_chars
        super().__init__(**kwargs)

    def hub(self, split: str) -> HubLocation:
        return HubLocation("deepmind/code_contests", split)

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        problem = row["description"]
        tests, tests_reason = merge_tests(row)
        solution = reference_solution(row["solutions"])
        return {
            "problem": problem,
            "ground_truth_solution": solution,
            "test_cases": dump_tests(tests) if tests else "",
            "starter_code": "",
            DROP: code_problem_reason(problem, self.min_problem_chars)
            or tests_reason
            or ("" if solution else "no_solution"),
        }
