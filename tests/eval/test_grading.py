"""Extraction and Hendrycks equivalence on tricky answers; expected verdicts follow the MATH rules
(worked out by hand from the published normalisation, not from this implementation)."""

from __future__ import annotations

import pytest
from thoughtmill.eval.grading.boxed import extract_boxed_answer
from thoughtmill.eval.grading.code import extract_final_code
from thoughtmill.eval.grading.hendrycks import Unnormalisable, is_equiv, normalise
from thoughtmill.eval.grading.mathverify import math_verify_equiv
from thoughtmill.eval.grading.multiple_choice import extract_choice_letter

EQUIV_TABLE = [
    # fractions and decimals
    ("\\frac{1}{2}", "\\dfrac{1}{2}", True),
    ("\\frac{1}{2}", "\\tfrac{1}{2}", True),
    ("\\frac{1}{2}", "\\frac12", True),
    ("0.5", "\\frac12", True),
    ("\\frac{1}{2}", ".5", True),
    ("1/2", "0.5", True),
    ("\\frac{1}{2}", "1/2", True),
    ("\\frac{1}{2}", "0.50", False),
    ("-\\frac{2}{3}", "-2/3", False),  # -2/3 becomes \frac{-2}{3}
    ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", True),
    ("a/b", "\\frac{a}{b}", False),  # non-integer a/b: raw comparison
    ("x/y", "x/y", True),
    # units, degrees, percent, dollars
    ("10", "10 \\text{ cm}", True),
    ("10", "10\\text{cm}", False),  # no space after \text{: not a unit marker
    ("5", "5 \\text{ apples and } 3 \\text{ pears}", False),  # two markers: raw comparison
    ("90", "90^\\circ", True),
    ("90", "90^{\\circ}", True),
    ("50", "50\\%", True),
    ("5", "\\$5", True),
    # spaces, line breaks, variables
    ("7", " 7 ", True),
    ("7", "7\n", True),
    ("5", "x = 5", True),
    ("5", "k=5", True),
    ("6", "06", False),
    ("1000", "1,000", False),
    # intervals and tuples
    ("[-1, 3]", "[-1,3]", True),
    ("[-1, 3]", "(-1, 3]", False),
    ("(-\\infty, 2)", "(-\\infty,2)", True),
    ("[2, 5)", "x \\in [2, 5)", False),
    ("\\left( 2, \\frac{\\pi}{2} \\right)", "(2,\\frac{\\pi}{2})", True),
    ("\\{1,2\\}", "\\{2,1\\}", False),
    # roots
    ("2\\sqrt3", "2\\sqrt{3}", True),
    ("2\\sqrt", "2 \\sqrt", False),  # dangling \sqrt: raw comparison
    # empty answers
    ("3", "", False),
    ("", "", True),
]


@pytest.mark.parametrize(("reference", "candidate", "expected"), EQUIV_TABLE)
def test_hendrycks_equivalence_table(reference: str, candidate: str, expected: bool) -> None:
    assert is_equiv(reference, candidate) is expected
    assert is_equiv(candidate, reference) is expected  # symmetric


def test_none_handling() -> None:
    assert is_equiv(None, None) is True
    assert is_equiv("1", None) is False


@pytest.mark.parametrize("text", ["a/b", "2\\sqrt", "\\frac", "1 \\text{ m} 2 \\text{ s}"])
def test_unnormalisable_inputs_raise(text: str) -> None:
    with pytest.raises(Unnormalisable):
        normalise(text)


BOXED_TABLE = [
    ("so the answer is \\boxed{5}.", "5"),
    ("first \\boxed{3}, on reflection \\boxed{4}", "4"),  # multiple boxes: the last wins
    ("$\\boxed{\\frac{1}{2}}$", "\\frac{1}{2}"),  # nested braces
    ("$\\boxed{\\text{(C)}}$", "\\text{(C)}"),
    ("the answer is $\\boxed 5$.", "5"),  # \boxed<space>: up to the next $
    ("\\boxed{2} and later \\boxed {3}", "{3}"),  # \boxed<space> wins over brace matching
    ("answer is \\boxed{5", ""),  # unbalanced
    ("\\fbox{7}", ""),  # \fbox is located but never passes the \boxed{ check
    ("no box here, 42", ""),
    ("\\boxed{}", ""),
    ("", ""),
]


@pytest.mark.parametrize(("output", "expected"), BOXED_TABLE)
def test_boxed_extraction(output: str, expected: str) -> None:
    assert extract_boxed_answer(output) == expected


def test_extraction_then_equivalence_end_to_end() -> None:
    output = "Reasoning... we get $x=\\dfrac{3}{28}$ so \\boxed{\\dfrac{3}{28}}"
    assert is_equiv("\\frac{3}{28}", extract_boxed_answer(output))


MATH_VERIFY_TABLE = [
    ("\\frac{3}{28}", "so \\boxed{\\dfrac{3}{28}}", True),
    ("0.5", "hence \\boxed{\\frac12}", True),
    ("\\left( 2, \\frac{\\pi}{2} \\right)", "\\boxed{(2,\\frac{\\pi}{2})}", True),
    ("-\\frac{2}{3}", "\\boxed{-2/3}", True),  # Math-Verify forgives what the string rules reject
    ("729", "\\boxed{728}", False),
    ("729", "", False),
]


@pytest.mark.parametrize(("reference", "output", "expected"), MATH_VERIFY_TABLE)
def test_math_verify_beside(reference: str, output: str, expected: bool) -> None:
    assert math_verify_equiv(reference, output) is expected


LETTER_TABLE = [
    ("... therefore the answer is \\boxed{C}", "C"),
    ("I first thought B. Final answer: \\boxed{D}", "D"),
    ("The answer is (A).", "A"),
    ("Answer: c", "C"),  # upper-cased first
    ("\\boxed{B} is a good choice", "A"),  # Evalchemy's quirk: the article "a" reads as A
    ("ABCD", "ABCD"),  # no standalone letter: the trimmed text, which never matches
    ("no choice given.", "no choice given"),
    ("", ""),
]


@pytest.mark.parametrize(("output", "expected"), LETTER_TABLE)
def test_gpqa_letter_extraction(output: str, expected: str) -> None:
    assert extract_choice_letter(output) == expected


CODE_TABLE = [
    ("intro\n```python\nprint(1)\n```\nthen\n```python\nprint(2)\n```\n", "print(2)\n"),
    ("```\nx = 1\n```", "x = 1\n"),
    ("```py\nx = 2</code>junk\n```", "x = 2"),
    ("```python3\nx = 1\n```", ""),  # info string with a digit is not matched (as upstream)
    ("no code at all", ""),
]


@pytest.mark.parametrize(("output", "expected"), CODE_TABLE)
def test_final_code_block(output: str, expected: str) -> None:
    assert extract_final_code(output) == expected
