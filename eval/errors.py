"""The eval package's exception family: every message names the task, file, row or field at fault."""

from __future__ import annotations


class EvalError(Exception):
    """Base class for errors raised by thoughtmill's evaluator."""


class DataError(EvalError):
    """A benchmark file or hub dataset is not in the expected layout (missing column, bad value)."""


class BackendError(EvalError):
    """A model backend could not be built or failed to generate."""


class OutputsError(EvalError):
    """Saved generations are missing, incomplete or do not match the benchmark they claim to be for."""


class MissingDependencyError(EvalError, ImportError):
    """An optional heavy dependency (vllm, transformers, torch) is absent; the message names the extra."""


def missing_dependency(module: str, extra: str, purpose: str) -> MissingDependencyError:
    """Build the error raised when a lazily imported optional dependency is not installed."""
    return MissingDependencyError(
        f"{purpose} needs the optional dependency '{module}', which is not installed. "
        f"Install it with: pip install 'thoughtmill[{extra}]'"
    )
