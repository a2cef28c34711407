"""The execution package's exception family."""

from __future__ import annotations


class ExecutionError(Exception):
    """Base class for errors raised by the execution backend (bad test cases, sandbox set-up)."""
