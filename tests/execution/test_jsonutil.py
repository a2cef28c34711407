"""JSON of test data and return values: any integer size for trusted text, bounded for hostile text."""

from __future__ import annotations

import time

import pytest
from thoughtmill.execution import jsonutil


def test_long_integers_round_trip():
    for n in (1, 4000, 4001, 9999, 50001):
        value = 10**n - 7
        text = "[" + ("-" if n % 2 else "") + str_digits(value) + "]"
        got = jsonutil.loads(text)
        assert got == [-value if n % 2 else value]


def str_digits(value: int) -> str:
    import sys

    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return str(value)
    finally:
        sys.set_int_max_str_digits(old)


def test_hostile_integer_is_refused_before_conversion():
    text = "[" + "7" * 2_000_000 + "]"
    t0 = time.monotonic()
    with pytest.raises(jsonutil.IntTooLong) as info:
        jsonutil.loads(text, max_int_digits=400)
    assert time.monotonic() - t0 < 2
    assert info.value.digits == 2_000_000 and info.value.limit == 400
    assert jsonutil.loads("[-123, 1.5e3]", max_int_digits=3) == [-123, 1500.0]


def test_max_int_digits():
    assert jsonutil.max_int_digits([1, {"a": [10**500]}, True, "9" * 900]) >= 501
    assert jsonutil.max_int_digits("x") == 0


def test_preview_is_bounded():
    assert jsonutil.preview([1, "a", None, 2.5]) == '[1, "a", null, 2.5]'
    big = jsonutil.preview([10**100_000])
    assert "digits" in big and len(big) <= 60
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    assert len(jsonutil.preview(deep)) <= 60
    assert len(jsonutil.preview("x" * 10**6)) <= 60
    assert jsonutil.preview({1: object()}) == "{1: <object>}"
