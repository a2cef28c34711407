"""Verdicts under hostile output and a failing machinery (issue 12, "Verdicts"): the judge stays
bounded whatever a solution returns, and a judge worker killed or stalled mid-verify never turns into
a verdict — the solution is judged again (real SIGKILL / SIGSTOP on real worker processes)."""

from __future__ import annotations

import signal
import time

import pytest
from thoughtmill.execution import Limits, Status, run_batch, run_tests

from .conftest import WORKER, Saboteur

LIMITS = Limits(time_s=5.0, total_time_s=30.0)
SLOW_ECHO = "import time\ntime.sleep(1.0)\nprint(input())\n"
ECHO_TESTS = {"inputs": ["hello\n"], "outputs": ["hello\n"]}


def test_million_digit_return_value_is_judged_quickly():
    # The program writes a million digits straight into its result pipe, then returns: the judge
    # must not spend minutes turning that text into an int (nor fail while describing it).
    code = "import os\ndef f(x):\n    os.write(3, b'1' * 1_000_000)\n    return 1\n"
    t0 = time.monotonic()
    v = run_tests(code, {"fn_name": "f", "inputs": [[1]], "outputs": [[2]]}, LIMITS)
    took = time.monotonic() - t0
    assert v.status is Status.WRONG_ANSWER, v
    assert "digits" in v.detail
    assert took < 10, f"the judge took {took:.1f} s on a hostile return value"


def test_deeply_nested_return_value_is_a_wrong_answer():
    code = "import os\ndef f(x):\n    os.write(3, b'[' * 100_000)\n    return 1\n"
    v = run_tests(code, {"fn_name": "f", "inputs": [[1]], "outputs": [[2]]}, LIMITS)
    assert v.status is Status.WRONG_ANSWER and not v.infrastructure_failure, v


def test_big_wrong_integer_is_described_not_crashed_on():
    code = "def power(n):\n    return 10 ** n + 1\n"
    v = run_tests(code, {"fn_name": "power", "inputs": [[20000]], "outputs": [[10**20000]]}, LIMITS)
    assert v.status is Status.WRONG_ANSWER, v
    assert "digits" in v.detail and len(v.detail) < 300


# --------------------------------------------------------------------------- the machinery fails


def _batch(saboteur: Saboteur, **options) -> dict:
    saboteur.start()
    try:
        return dict(run_batch([("slow", SLOW_ECHO, ECHO_TESTS)], LIMITS, workers=1, **options))
    finally:
        saboteur.stop.set()
        saboteur.join()


def test_worker_killed_mid_verify_is_judged_again():
    saboteur = Saboteur(signal.SIGKILL, times=1, marker=WORKER)
    verdicts = _batch(saboteur)
    assert len(saboteur.hit) == 1, "the test never caught a worker judging"
    v = verdicts["slow"]
    assert v.status is Status.ACCEPTED and not v.infrastructure_failure, v


def test_stalled_worker_misses_the_pool_deadline_and_is_judged_again():
    saboteur = Saboteur(signal.SIGSTOP, times=1, marker=WORKER)
    t0 = time.monotonic()
    verdicts = _batch(saboteur, judge_deadline_s=5.0)
    assert len(saboteur.hit) == 1
    assert verdicts["slow"].accepted, verdicts["slow"]
    assert time.monotonic() - t0 < 30


def test_persistent_infrastructure_failure_is_flagged_not_a_verdict():
    saboteur = Saboteur(signal.SIGKILL, times=2, marker=WORKER)
    verdicts = _batch(saboteur, retries=1)
    v = verdicts["slow"]
    assert len(saboteur.hit) == 2
    assert v.status is Status.SANDBOX_ERROR and v.infrastructure_failure, v
    assert "died" in v.detail
    assert v.to_dict()["infrastructure_failure"] is True


def test_bad_test_cases_are_a_verdict_not_an_infrastructure_failure():
    (v,) = (v for _, v in run_batch([(1, "print(1)", {"inputs": ["1"]})], LIMITS, workers=1))
    assert v.status is Status.SANDBOX_ERROR and not v.infrastructure_failure


@pytest.mark.parametrize("retries", [-1])
def test_retries_are_checked(retries):
    from thoughtmill.execution import ExecutionError

    with pytest.raises(ExecutionError, match="retries"):
        list(run_batch([], retries=retries))
