"""Comparison rules (compare.py), strict and lenient, without running anything."""

from __future__ import annotations

import pytest
from thoughtmill.execution import compare
from thoughtmill.execution.errors import ExecutionError

STRICT_CASES = [
    ("3\n", "3\n", True),
    ("3", "3\n", True),
    ("3   \n\n\n", "3\n", True),
    ("a\nb\n", "a\r\nb\r\n", True),
    ("", "", True),
    ("\n", "", True),
    ("x", "", False),
    ("", "x", False),
    ("1 2 3\n", "1 2 3\n", True),
    (" 1 2\n", "1 2\n", False),  # leading whitespace matters
    ("1  2\n", "1 2\n", False),  # the whitespace skeleton must match
    ("0.3333333\n", "0.333333333\n", True),
    ("0.33\n", "0.333333\n", False),
    ("1000000.5\n", "1000000.4999999\n", True),  # relative 1e-6
    ("3\n", "3.0\n", True),
    ("007\n", "7\n", True),
    ("-0\n", "0\n", True),
    ("+5\n", "5\n", True),
    ("5\n", "6\n", False),
    ("1" + "0" * 5000 + "\n", "1" + "0" * 5000 + "\n", True),
    ("1" + "0" * 5000 + "\n", "1" + "0" * 4999 + "1\n", False),
    ("nan\n", "nan\n", True),
    ("inf\n", "1e400\n", False),
    ("YES\n", "yes\n", False),
    ("1\n2\n", "1\n", False),
    ("\n1\n", "1\n", False),  # leading empty lines matter
    ("1_000\n", "1000\n", False),
    ("0x10\n", "16\n", False),
]


@pytest.mark.parametrize(("got", "want", "ok"), STRICT_CASES)
def test_strict_stdout(got: str, want: str, ok: bool):
    assert compare.strict_stdout(got, want) is ok


LENIENT_CASES = [
    ("3\n", "3\n", True),
    (" 1 2 \n", "1 2\n", True),
    ("1  2\n", "1 2\n", True),
    ("3 1 2\n", "1 2 3\n", True),  # token sets
    ("1 1 2\n", "1 2\n", True),  # duplicates ignored (as in APPS/TACO)
    ("b\na\n", "a\nb\n", True),  # line order ignored
    ("0.1231\n", "0.1234\n", True),  # allclose fails, 3-decimal rounding passes
    ("1.00001\n", "1\n", True),  # allclose
    ("1 2 4\n", "1 2 3\n", False),
    ("", "1\n", False),
    ("x\n\n\ny\n", "x\ny\n", True),
    ("YES\n", "yes\n", False),
]


@pytest.mark.parametrize(("got", "want", "ok"), LENIENT_CASES)
def test_lenient_stdout(got: str, want: str, ok: bool):
    assert compare.lenient_stdout(got, want) is ok


CALL_CASES = [
    (3, [3], True, True),
    (3, [3], False, False),  # LiveCodeBench: never unwrapped
    ([1, 2], [[1, 2]], True, True),
    ([1, 2], [1, 2], True, True),
    (True, 1, True, False),  # bool is not a number
    (1, 1.0, True, True),
    (0.1 + 0.2, 0.3, False, True),
    ({"a": [1, 2]}, {"a": [1, 2]}, False, True),
    ({"a": 1}, {"a": 1, "b": 2}, False, False),
    (None, None, False, True),
    (None, [], False, False),
    ("1", 1, False, False),
    ([[1], [2]], [[1], [2]], False, True),
]


@pytest.mark.parametrize(("got", "want", "unwrap", "ok"), CALL_CASES)
def test_strict_call(got, want, unwrap, ok):
    assert compare.strict_call(got, want, unwrap) is ok


def test_lenient_call_is_python_equality():
    assert compare.lenient_call(True, 1)
    assert compare.lenient_call(3, [3])
    assert not compare.lenient_call(4, [3])


def test_mode_is_checked():
    assert compare.check_mode("strict") == "strict"
    with pytest.raises(ExecutionError, match="mode must be one of"):
        compare.check_mode("fuzzy")


def test_mismatch_description():
    assert compare.describe_stdout_mismatch("1\n5\n", "1\n4\n") == "line 2: expected '4', got '5'"
    assert "line(s)" in compare.describe_stdout_mismatch("1\n", "1\n2\n")


# --------------------------------------------------------------------------- hostile: strict false passes

HOSTILE_STRICT_STDOUT = [
    # an integer expected token is compared as an exact integer, never within a float tolerance
    ("7.620789390342173e+21\n", "7620789390342173949126\n", False),
    ("1e9\n", "1000000007\n", False),
    ("1000000007.0\n", "1000000007\n", True),  # the same integer, written as a float
    ("3.0\n", "3\n", True),
    # overflowing literals are numbers, not infinities: 2e400 is not 1e400
    ("2e400\n", "1e400\n", False),
    ("1.0000000001e400\n", "1e400\n", True),
    ("1e-400\n", "0.0\n", True),  # tiny, within the absolute tolerance of a float expected token
    ("1e-400\n", "0\n", False),  # but not the integer 0
    # ASCII digits only: Arabic-Indic and full-width digits are text, not numbers
    ("\u0665.0\n", "5.0\n", False),
    ("\uff15.\uff15\n", "5.5\n", False),
    ("\u0665\n", "5\n", False),
    ("inf\n", "inf\n", True),  # identical text
]


@pytest.mark.parametrize(("got", "want", "ok"), HOSTILE_STRICT_STDOUT)
def test_strict_stdout_hostile(got: str, want: str, ok: bool):
    assert compare.strict_stdout(got, want) is ok


class LyingFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__

    def __float__(self):
        return float("inf")


class LyingInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


HOSTILE_CALL = [
    (7.620789390342173e21, 7620789390342173949126, False),
    (1e9, 1000000007, False),
    (3.0, 3, True),  # exactly the integer 3
    (float("inf"), float("inf"), True),  # non-finite values compare by kind
    (float("-inf"), float("inf"), False),
    (1e308 * 10, 1e308, False),
    (float("nan"), float("nan"), True),  # the documented rule: NaN matches NaN only
    (float("nan"), 1.0, False),
    (LyingFloat(1.0), float("inf"), False),  # rebuilt as a plain float first
    ([LyingFloat(2.0)], [float("inf")], False),
    (LyingInt(4), 5, False),
    ({"a": LyingInt(1)}, {"a": 2}, False),
]


@pytest.mark.parametrize(("got", "want", "ok"), HOSTILE_CALL)
def test_strict_call_hostile(got, want, ok):
    assert compare.strict_call(got, want, False) is ok


def test_lenient_call_rebuilds_plain_values():
    assert not compare.lenient_call(LyingFloat(1.0), float("inf"))
    assert not compare.lenient_call([LyingInt(4)], [5])
    assert compare.lenient_call(LyingInt(5), 5)
