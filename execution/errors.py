"""The execution package's exception family."""

from __future__ import annotations


class ExecutionError(Exception):
    """Base class for errors raised by the execution backend (bad test cases, sandbox set-up)."""


class TestCaseError(ExecutionError):
    """The test cases of a solution are malformed (names the field and what was expected)."""

    __test__ = False  # not a pytest class


class SandboxUnavailable(ExecutionError):
    """No isolation layer at least as strong as the one required can run on this host."""
