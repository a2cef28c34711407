"""Hendrycks-style string equivalence for math answers (the MATH dataset's ``is_equiv``).

This is thoughtmill's own implementation of the published normalisation rules, written to give the same
verdicts as the helper Evalchemy imports from lm-eval-harness, including its failure mode: when one of
the rules cannot be applied (two ``\\text{ `` unit markers, a dangling ``\\sqrt`` or ``\\frac``, an
``a/b`` whose parts are not integers) the original compares the *raw* strings instead. Keeping that
behaviour is what lets our numbers sit next to Evalchemy's in one table.
"""

from __future__ import annotations


class Unnormalisable(ValueError):
    """A normalisation rule does not apply to this string; callers fall back to raw comparison."""


def _remove_right_units(text: str) -> str:
    marker = "\\text{ "
    if marker not in text:
        return text
    parts = text.split(marker)
    if len(parts) != 2:
        raise Unnormalisable(f"{len(parts) - 1} unit markers in {text!r}")
    return parts[0]


def _fix_sqrt(text: str) -> str:
    """``\\sqrt3`` -> ``\\sqrt{3}``."""
    if "\\sqrt" not in text:
        return text
    head, *rest = text.split("\\sqrt")
    out = [head]
    for piece in rest:
        if not piece:
            raise Unnormalisable(f"dangling \\sqrt in {text!r}")
        if piece[0] == "{":
            out.append("\\sqrt" + piece)
        else:
            out.append("\\sqrt{" + piece[0] + "}" + piece[1:])
    return "".join(out)


def _fix_fracs(text: str) -> str:
    """``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac1{72}`` -> ``\\frac{1}{72}``."""
    head, *rest = text.split("\\frac")
    out = [head]
    for piece in rest:
        out.append("\\frac")
        if not piece:
            raise Unnormalisable(f"dangling \\frac in {text!r}")
        if piece[0] == "{":
            out.append(piece)
            continue
        if len(piece) < 2:
            return text
        numerator, second, tail = piece[0], piece[1], piece[2:]
        if second == "{":
            out.append("{" + numerator + "}" + second + tail)
        else:
            out.append("{" + numerator + "}{" + second + "}" + tail)
    return "".join(out)


def _fix_a_slash_b(text: str) -> str:
    """``3/4`` -> ``\\frac{3}{4}`` when both sides are plain integers."""
    parts = text.split("/")
    if len(parts) != 2:
        return text
    try:
        numerator, denominator = int(parts[0]), int(parts[1])
    except ValueError as exc:
        raise Unnormalisable(f"non-integer fraction {text!r}") from exc
    if text != f"{numerator}/{denominator}":
        return text
    return "\\frac{" + str(numerator) + "}{" + str(denominator) + "}"


_PLAIN_REMOVALS = (
    ("\n", ""),
    ("\\!", ""),
    ("\\\\", "\\"),
    ("tfrac", "frac"),
    ("dfrac", "frac"),
    ("\\left", ""),
    ("\\right", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("\\$", ""),
)


def normalise(answer: str) -> str:
    """Canonical form of a math answer; raises `Unnormalisable` where the MATH rules break down."""
    text = answer
    for old, new in _PLAIN_REMOVALS:
        text = text.replace(old, new)
    text = _remove_right_units(text)
    text = text.replace("\\%", "")
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if not text:
        return text
    if text[0] == ".":
        text = "0" + text
    sides = text.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        text = sides[1]
    text = _fix_sqrt(text)
    text = text.replace(" ", "")
    text = _fix_fracs(text)
    if text == "0.5":
        text = "\\frac{1}{2}"
    return _fix_a_slash_b(text)


def is_equiv(reference: str | None, candidate: str | None) -> bool:
    """Hendrycks equivalence of two answers (symmetric); raw equality when either cannot be normalised."""
    if reference is None and candidate is None:
        return True
    if reference is None or candidate is None:
        return False
    try:
        return normalise(reference) == normalise(candidate)
    except Unnormalisable:
        return reference == candidate
