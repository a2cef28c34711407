"""JSON helpers that accept what Python's json rejects by default in 3.11+ (integers of > 4,300 digits)."""

from __future__ import annotations

import decimal
import json
from typing import Any


def _parse_int(text: str) -> int:
    if len(text) <= 4000:
        return int(text)
    # int(str) refuses > 4,300 digits (CVE-2020-10735 guard); the decimal route has no such limit.
    return int(decimal.Decimal(text))


def loads(text: str | bytes) -> Any:
    """`json.loads` with unbounded integers (NaN/Infinity accepted, as Python's json writes them)."""
    return json.loads(text, parse_int=_parse_int)
