"""Sandboxed, concurrent execution of untrusted solutions against test cases.

    from thoughtmill.execution import run_tests, run_batch, Limits, Verdict, Status
    verdict = run_tests(code, test_cases, Limits(time_s=6), mode="strict")
    for item_id, verdict in run_batch(items, workers=None, mode="strict"): ...

See docs/execution.md for the isolation layers, the test formats and the comparison rules.
"""

from thoughtmill.execution.batch import run_batch
from thoughtmill.execution.compare import LENIENT, STRICT
from thoughtmill.execution.errors import ExecutionError, SandboxUnavailable, TestCaseError
from thoughtmill.execution.judge import run_tests
from thoughtmill.execution.sandbox import (
    IsolationWarning,
    WeakIsolationRefused,
    require_isolation,
    sandbox_report,
)
from thoughtmill.execution.testcases import TestSpec, parse_test_cases
from thoughtmill.execution.types import Limits, Status, Verdict

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
    "WeakIsolationRefused",
    "parse_test_cases",
    "require_isolation",
    "run_batch",
    "run_tests",
    "sandbox_report",
]
