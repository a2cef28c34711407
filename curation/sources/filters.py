"""The published per-row filters, as small pure functions returning a drop reason ("" keeps the row).

Kept apart from the adapters so every code source applies the same text rules and the reasons that
land in the dataset card have one spelling.
"""

from __future__ import annotations

import json
from typing import Any

#: OpenThoughts drops code problems whose statement is shorter than this.
CODE_MIN_CHARS = 200

_LINK_MARKERS = ("http://", "https://")
_IMAGE_MARKERS = ("[image]", "<img", "![", ".png", ".jpg", ".jpeg", ".gif", ".svg")

#: NuminaMath: words that point at a figure the model cannot see (published list, lower-case match).
MATH_FIGURE_WORDS = ("figure", "diagram")
MATH_IMAGE_WORDS = ("jpeg", "png", "jpg", "svg")


def code_problem_reason(text: str, min_chars: int = CODE_MIN_CHARS) -> str:
    """Why a code statement is unusable: it links out, shows an image, or is too short."""
    low = text.lower()
    if any(m in low for m in _LINK_MARKERS):
        return "link"
    if any(m in low for m in _IMAGE_MARKERS):
        return "image"
    if len(text.strip()) < min_chars:
        return "short_problem"
    return ""


def parse_tests(raw: Any) -> tuple[dict[str, Any] | None, str]:
    """Parse an APPS/TACO ``input_output`` value into ``{"inputs", "outputs", "fn_name"?}``.

    Returns (tests, "") or (None, reason): "no_tests" when absent or empty, "malformed_tests" when
    the JSON is broken or not the expected shape (the row is dropped and counted, never guessed at).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, "no_tests"
    data = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            return None, "malformed_tests"
    if not isinstance(data, dict):
        return None, "malformed_tests"
    inputs, outputs = data.get("inputs"), data.get("outputs")
    if inputs is None and outputs is None:
        return None, "no_tests"
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        return None, "malformed_tests"
    if not inputs:
        return None, "no_tests"
    tests: dict[str, Any] = {"inputs": inputs, "outputs": outputs}
    fn_name = data.get("fn_name")
    if fn_name:
        tests["fn_name"] = str(fn_name)
    return tests, ""


def dump_tests(tests: dict[str, Any]) -> str:
    """The uniform ``test_cases`` string."""
    return json.dumps(tests, ensure_ascii=False)


def parse_solutions(raw: Any) -> tuple[list[str], str]:
    """Parse a JSON list of solutions; ([], "no_solution") when empty, "malformed_solutions" when broken."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return [], "no_solution"
    data = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            return [], "malformed_solutions"
    if not isinstance(data, list):
        return [], "malformed_solutions"
    solutions = [s for s in data if isinstance(s, str) and s.strip()]
    return (solutions, "") if solutions else ([], "no_solution")


def boxed_answers(text: str) -> list[str]:
    r"""Contents of every ``\boxed{...}`` in ``text`` (nested braces matched; unclosed ones ignored)."""
    answers: list[str] = []
    start = 0
    while True:
        at = text.find("\\boxed", start)
        if at < 0:
            return answers
        i = at + len("\\boxed")
        while i < len(text) and text[i] == " ":
            i += 1
        start = i
        if i >= len(text) or text[i] != "{":
            continue
        depth, j = 0, i
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    answers.append(text[i + 1 : j])
                    break
            j += 1
        start = j + 1 if depth == 0 else i + 1


def math_problem_reason(problem: str, solution: str | None) -> str:
    r"""Published NuminaMath filters: figures/images, an answer in the statement, multi-part, no answer.

    A solution whose ``\boxed{}`` is empty is a proof (QED box) and is dropped, as published.
    """
    low = problem.lower()
    if any(w in low for w in MATH_FIGURE_WORDS):
        return "figure"
    if any(w in low for w in MATH_IMAGE_WORDS):
        return "image"
    if "answer:" in low:
        return "answer_in_problem"
    stripped = low.lstrip()
    if stripped.startswith("a)") and "b)" in stripped:
        return "multi_part"
    if not solution or not solution.strip():
        return "no_solution"
    answers = boxed_answers(solution)
    if not answers:
        return "no_boxed"
    if any(not a.strip() for a in answers):
        return "empty_boxed"
    return ""
