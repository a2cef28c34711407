"""JSON for test data and return values: integers of any size, bounded when the text is hostile.

Python 3.11+ refuses ``int(str)`` beyond 4,300 digits (the CVE-2020-10735 guard) and the conversion is
quadratic; the decimal route it used to take here was slower still (a million digits: ~35 s). Long
integers are converted by halves instead (subquadratic), and a return value from a solution is parsed
with a cap on its integers' length (`loads(..., max_int_digits=)`), so a hostile program cannot stall
the trusted judge. Nesting depth is bounded by the parser's recursion limit (RecursionError), size by
the runner's output cap. `preview` describes any value in bounded time and space.
"""

from __future__ import annotations

import json
import math
from typing import Any

_SAFE_DIGITS = 4000  # below Python's 4,300-digit limit
_LOG10_2 = math.log10(2)


class IntTooLong(ValueError):
    """An integer in the text has more digits than the caller allows."""

    def __init__(self, digits: int, limit: int) -> None:
        super().__init__(f"an integer of {digits} digits (at most {limit} allowed here)")
        self.digits, self.limit = digits, limit


def int_from_digits(text: str) -> int:
    """``int(text)`` for any length, without the interpreter's digit limit, by halves."""
    if len(text) <= _SAFE_DIGITS:
        return int(text)
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-")
    return sign * _by_halves(digits)


def _by_halves(digits: str) -> int:
    if len(digits) <= _SAFE_DIGITS:
        return int(digits)
    mid = len(digits) // 2
    return _by_halves(digits[:mid]) * 10 ** (len(digits) - mid) + _by_halves(digits[mid:])


def loads(text: str | bytes, max_int_digits: int | None = None) -> Any:
    """`json.loads` with unbounded integers (NaN/Infinity accepted, as Python's json writes them).

    With ``max_int_digits``, an integer longer than that raises `IntTooLong` before any conversion.
    """
    if max_int_digits is None:
        return json.loads(text, parse_int=int_from_digits)

    def parse_int(token: str) -> int:
        digits = len(token) - (token[0] == "-")
        if digits > max_int_digits:
            raise IntTooLong(digits, max_int_digits)
        return int_from_digits(token)

    return json.loads(text, parse_int=parse_int)


def int_digits(value: int) -> int:
    """An upper bound of the decimal digits of ``value`` (from its bit length; no conversion)."""
    return int(abs(value).bit_length() * _LOG10_2) + 1


def max_int_digits(value: Any, _depth: int = 0) -> int:
    """The most digits of any integer inside a JSON-like value (0 when it holds none)."""
    if isinstance(value, bool) or _depth > 1000:
        return 0
    if isinstance(value, int):
        return int_digits(value)
    if isinstance(value, list):
        return max((max_int_digits(v, _depth + 1) for v in value), default=0)
    if isinstance(value, dict):
        return max((max_int_digits(v, _depth + 1) for v in value.values()), default=0)
    return 0


def preview(value: Any, limit: int = 60) -> str:
    """A short JSON-like description of ``value``, in time and space bounded by ``limit``."""
    parts: list[str] = []
    size = 0

    def emit(text: str) -> None:
        nonlocal size
        parts.append(text)
        size += len(text)

    def walk(v: Any) -> None:
        if size > limit:
            return
        if v is None or isinstance(v, bool):
            emit({None: "null", True: "true", False: "false"}[v])
        elif isinstance(v, int):
            n = int_digits(v)
            emit(str(int(v)) if n < _SAFE_DIGITS else f"<int of ~{n} digits>")
        elif isinstance(v, float):
            emit(json.dumps(float(v)))
        elif isinstance(v, str):
            emit(json.dumps(str(v)[: limit + 1]))
        elif isinstance(v, (list, tuple)):
            emit("[")
            for i, item in enumerate(v):
                if size > limit:
                    break
                if i:
                    emit(", ")
                walk(item)
            emit("]")
        elif isinstance(v, dict):
            emit("{")
            for i, (k, item) in enumerate(v.items()):
                if size > limit:
                    break
                if i:
                    emit(", ")
                walk(k)
                emit(": ")
                walk(item)
            emit("}")
        else:
            emit(f"<{type(v).__name__}>")

    walk(value)
    text = "".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."
