"""Sandboxed, concurrent execution of untrusted solutions against test cases.

    from execution import run_tests, run_batch, Limits, Verdict, Status
    verdict = run_tests(code, test_cases, Limits(time_s=6), mode="strict")
    for item_id, verdict in run_batch(items, workers=None, mode="strict"): ...

See docs/execution.md for the isolation layers, the test formats and the comparison rules.
"""

from execution.compare import LENIENT, STRICT
from execution.errors import ExecutionError, SandboxUnavailable, TestCaseError
from execution.judge import run_tests
from execution.pool import run_batch
from execution.sandbox import IsolationWarning, sandbox_report
from execution.testcases import TestSpec, parse_test_cases
from execution.types import Limits, Status, Verdict

__all__ = [
    "LENIENT",
    "STRICT",
    "ExecutionError",
    "IsolationWarning",
    "Limits",
    "SandboxUnavailable",
    "Status",
    "TestCaseError",
    "TestSpec",
    "Verdict",
    "parse_test_cases",
    "run_batch",
    "run_tests",
    "sandbox_report",
]
