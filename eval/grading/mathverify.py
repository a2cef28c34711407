"""Math-Verify as a second opinion beside Hendrycks equivalence (reported, never the headline number).

Math-Verify parses the gold answer and the *whole* model output symbolically, so it forgives formatting
that the string rules reject (``0.5`` vs ``\\frac12`` inside a sentence, ``\\dfrac`` with units, sets in
another order). Its timeouts rely on ``signal.alarm``, which only works in the main thread, so they are
switched off elsewhere rather than letting the call fail.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from math_verify import parse, verify


def _timeout() -> int | None:
    return 5 if threading.current_thread() is threading.main_thread() else None


@lru_cache(maxsize=4096)
def _parse_gold(answer: str) -> tuple:
    return tuple(parse("\\boxed{" + answer + "}", parsing_timeout=_timeout()))


def math_verify_equiv(reference: str, model_output: str | None) -> bool:
    """Whether Math-Verify judges the model output to state the reference answer."""
    if not model_output:
        return False
    gold = list(_parse_gold(str(reference)))
    if not gold:
        return False
    predicted = parse(model_output, parsing_timeout=_timeout())
    if not predicted:
        return False
    return bool(verify(gold, predicted, timeout_seconds=_timeout()))
