"""Output comparison rules — the only place where "is this output right?" is decided.

Two modes, chosen per call (``mode="strict"`` is the default):

strict
    stdin/stdout: both texts are split into lines, trailing whitespace of every line and trailing
    empty lines are dropped; then lines must be equal one for one. Where two lines differ, they still
    match when they have the same whitespace skeleton and every differing token pair is numeric
    (ASCII digits only) and equal by the expected token's kind: an *integer* expected token is
    compared as an exact integer (``007`` = ``7``, ``-0`` = ``0``, ``3.0`` = ``3``; ``1e9`` is not
    ``1000000007``); only a *float* expected token gets a tolerance, ``|a - b| <= 1e-6 * max(1, |a|,
    |b|)`` (absolute or relative error 1e-6), computed exactly in decimal (no overflow: ``2e400`` is
    not ``1e400``). ``nan``/``inf`` are only equal to themselves as text.
    call-based: values are first rebuilt as plain Python types (a subclass's own ``__eq__`` or
    ``__float__`` is never called); then the return value must equal the expected value
    structurally: lists element by element, dicts key by key, ``bool`` never equals a number, an
    int expected value exactly (a float only if it is exactly that integer), a float expected value
    within the same tolerance. Non-finite values compare by kind: ``inf`` = ``inf``, ``-inf`` =
    ``-inf``, ``nan`` = ``nan`` (and nothing else). When the tests come from APPS/TACO (``unwrap``),
    the expected value may be wrapped in a one-element list and matching the element is also accepted.

lenient
    The APPS/TACO cascade the published datasets were verified with, reproduced check by check (see
    `lenient_stdout`): stripped whole-text equality, per-line stripped equality, lines as floats with
    ``numpy.allclose`` tolerances, then lines compared as *sets of tokens* ignoring order and
    duplicates, then the same with floats rounded to 3 decimals. Call-based: Python ``==`` on the
    JSON round-tripped value, or on the first element of the expected list.

Only the comparison is lenient: a test whose program timed out, crashed, or failed to compile is a
failure in both modes (the published checker's bug of counting those as passes is not reproduced).
"""

from __future__ import annotations

import decimal
import math
import re
from typing import Any

from thoughtmill.execution.errors import ExecutionError

STRICT = "strict"
LENIENT = "lenient"
MODES = (STRICT, LENIENT)

FLOAT_TOL = 1e-6

_NUM = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT = re.compile(r"[+-]?[0-9]+")
#: decimal arithmetic for the float tolerance: enough digits for 1e-6, exponents without overflow
_EXACT = decimal.Context(prec=40, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])
_WS_SPLIT = re.compile(r"(\s+)")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ExecutionError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


# --------------------------------------------------------------------------- strict, stdin


def _norm_lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def _canon_int(tok: str) -> str:
    neg = tok[0] == "-"
    digits = tok.lstrip("+-").lstrip("0") or "0"
    return digits if digits == "0" or not neg else "-" + digits


def numbers_close(a: float, b: float, tol: float = FLOAT_TOL) -> bool:
    """Plain floats: non-finite values by kind (nan = nan, inf = inf), finite ones within `tol`."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def _decimal(token: str) -> decimal.Decimal | None:
    try:
        return decimal.Decimal(token)
    except decimal.InvalidOperation:  # an exponent beyond what decimal represents
        return None


def tokens_equal(got: str, want: str, tol: float = FLOAT_TOL) -> bool:
    """One token: identical text, or both numeric (ASCII) and equal by the expected token's kind:
    an integer exactly, a float within `tol` (relative or absolute)."""
    if got == want:
        return True
    if not (_NUM.fullmatch(got) and _NUM.fullmatch(want)):
        return False
    if _INT.fullmatch(want):
        if _INT.fullmatch(got):
            return _canon_int(got) == _canon_int(want)
        g, w = _decimal(got), _decimal(want)
        return g is not None and w is not None and g == w  # exact: 3.0 is 3, 1e9 is not 1000000007
    g, w = _decimal(got), _decimal(want)
    if g is None or w is None:
        return False
    bound = _EXACT.multiply(_EXACT.create_decimal(repr(tol)), max(decimal.Decimal(1), abs(g), abs(w)))
    return _EXACT.compare(abs(_EXACT.subtract(g, w)), bound) <= 0


def line_equal(got: str, want: str, tol: float = FLOAT_TOL) -> bool:
    if got == want:
        return True
    g, w = _WS_SPLIT.split(got), _WS_SPLIT.split(want)
    if len(g) != len(w):
        return False
    for i, (a, b) in enumerate(zip(g, w)):
        if i % 2:  # whitespace separator: must be identical
            if a != b:
                return False
        elif not tokens_equal(a, b, tol):
            return False
    return True


def strict_stdout(output: str, expected: str, tol: float = FLOAT_TOL) -> bool:
    got, want = _norm_lines(output), _norm_lines(expected)
    if len(got) != len(want):
        return False
    return all(line_equal(a, b, tol) for a, b in zip(got, want))


# --------------------------------------------------------------------------- lenient, stdin (APPS/TACO)


def _stripped_equal(a: str, b: str) -> bool:
    return a.strip() == b.strip()


def _allclose(a: list[float], b: list[float]) -> bool:
    # numpy.allclose(a, b) with its defaults: |a - b| <= atol + rtol * |b|, nan never equal, inf equal to inf.
    for x, y in zip(a, b):
        if math.isinf(x) or math.isinf(y):
            if x != y:
                return False
        elif not abs(x - y) <= 1e-8 + 1e-5 * abs(y):
            return False
    return True


def lenient_stdout(output: str, expected: str) -> bool:
    """The APPS/TACO stdin cascade, check by check (same order and semantics, without numpy)."""
    out = output.split("\n")
    if out and out[-1] == "":
        out = out[:-1]
    gt = expected
    # custom_compare_: whole text, stripped; then each line stripped.
    if _stripped_equal("\n".join(out), gt) or _stripped_equal("\n".join(o.strip() for o in out), gt):
        return True
    # check 1
    if out == [gt]:
        return True
    # check 2: expected split into non-empty lines, each stripped
    gt_lines = [x.strip() for x in gt.split("\n") if x]
    if out == [gt_lines] or out == gt_lines:
        return True
    # check 3: drop empty output lines
    out = [o for o in out if o]
    if out == gt_lines:
        return True
    # every line a float, numpy.allclose
    try:
        of = [float(e) for e in out]
        gf = [float(e) for e in gt_lines]
        if len(of) == len(gf) and _allclose(of, gf):
            return True
    except ValueError:
        pass
    # check 5: each line as a set of tokens, the whole output as a set of those sets
    gt_sets = [frozenset(line.split()) for line in gt_lines]
    out_sets = [frozenset(toks) for toks in (o.split() for o in out) if toks]
    if set(out_sets) == set(gt_sets):
        return True
    # check 6: the same with every token a float rounded to 3 decimals
    try:
        o6 = {frozenset(round(float(t), 3) for t in s) for s in out_sets}
        g6 = {frozenset(round(float(t), 3) for t in s) for s in gt_sets}
        return o6 == g6
    except (ValueError, OverflowError):
        return False


# --------------------------------------------------------------------------- call-based


MAX_DEPTH = 200


class _Unequal:
    """Stands for a value that cannot be compared (too deep, or of a type JSON cannot carry)."""

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


def plain_scalar(value: Any) -> Any:
    """``value`` rebuilt as the plain type it derives from, through that type's own slots (never a
    subclass's ``__eq__``/``__float__``/``__str__``); containers are returned as they are."""
    if value is None or type(value) in (bool, int, float, str, list, dict):
        return value
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (list, tuple)):
        return list(list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value))
    if isinstance(value, dict):
        return dict(dict.items(value))
    return _Unequal()


def _plain_key(key: Any) -> Any:
    key = plain_scalar(key)
    return _Unequal() if type(key) in (list, dict) else key


def plain(value: Any, _depth: int = 0) -> Any:
    """The whole value rebuilt of plain types (tuples become lists, as after a JSON round trip)."""
    if _depth > MAX_DEPTH:
        return _Unequal()
    value = plain_scalar(value)
    if type(value) is list:
        return [plain(v, _depth + 1) for v in value]
    if type(value) is dict:
        return {_plain_key(k): plain(v, _depth + 1) for k, v in value.items()}
    return value


def strict_value_equal(got: Any, want: Any, tol: float = FLOAT_TOL, _depth: int = 0) -> bool:
    if _depth > MAX_DEPTH:
        return False
    got, want = plain_scalar(got), plain_scalar(want)  # rebuilt lazily, as far as the comparison goes
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is bool and type(got) is bool and got == want
    if type(want) is int and type(got) in (int, float):
        return got == want  # exact (int/float comparison in Python is exact): 1e9 != 1000000007
    if type(want) is float and type(got) in (int, float):
        try:
            return numbers_close(float(got), want, tol)
        except OverflowError:  # an int beyond any float: not close to a finite float, not infinite
            return False
    if want is None or got is None:
        return want is None and got is None
    if type(want) is str or type(got) is str:
        return type(want) is str and type(got) is str and got == want
    if type(want) is list and type(got) is list:
        return len(got) == len(want) and all(
            strict_value_equal(a, b, tol, _depth + 1) for a, b in zip(got, want)
        )
    if type(want) is dict and type(got) is dict:
        g = {_plain_key(k): v for k, v in got.items()}
        w = {_plain_key(k): v for k, v in want.items()}
        if len(g) != len(got) or len(w) != len(want) or g.keys() != w.keys():
            return False
        return all(strict_value_equal(g[k], w[k], tol, _depth + 1) for k in w)
    return False


def strict_call(result: Any, expected: Any, unwrap: bool) -> bool:
    if strict_value_equal(result, expected):
        return True
    expected = plain_scalar(expected)
    return bool(
        unwrap and type(expected) is list and len(expected) == 1 and strict_value_equal(result, expected[0])
    )


def lenient_call(result: Any, expected: Any, unwrap: bool = True) -> bool:
    # APPS: `output == expected or output == expected[0]` (tuples already lists after the JSON round trip),
    # on values rebuilt of plain types.
    try:
        result, expected = plain(result), plain(expected)
        if result == expected:
            return True
        return bool(type(expected) is list and expected and result == expected[0])
    except RecursionError:
        return False


# --------------------------------------------------------------------------- dispatch


def compare_stdout(output: str, expected: str, mode: str = STRICT) -> bool:
    return strict_stdout(output, expected) if mode == STRICT else lenient_stdout(output, expected)


def compare_call(result: Any, expected: Any, mode: str = STRICT, unwrap: bool = False) -> bool:
    return strict_call(result, expected, unwrap) if mode == STRICT else lenient_call(result, expected, unwrap)


def _short(text: str, n: int = 60) -> str:
    text = repr(text)
    return text if len(text) <= n else text[: n - 3] + "..."


def describe_stdout_mismatch(output: str, expected: str) -> str:
    """A one-line hint for `Verdict.detail`: the first differing line."""
    got, want = _norm_lines(output), _norm_lines(expected)
    for i, (a, b) in enumerate(zip(got, want)):
        if not line_equal(a, b):
            return f"line {i + 1}: expected {_short(b)}, got {_short(a)}"
    if len(got) != len(want):
        return f"expected {len(want)} line(s), got {len(got)}"
    return "output differs"
