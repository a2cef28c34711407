"""The eval package's exception family: every message names the task, file, row or field at fault."""

from __future__ import annotations

from thoughtmill import dependencies


class EvalError(Exception):
    """Base class for errors raised by thoughtmill's evaluator."""


class DataError(EvalError):
    """A benchmark file or hub dataset is not in the expected layout (missing column, bad value)."""


class BackendError(EvalError):
    """A model backend could not be built or failed to generate."""


class OutputsError(EvalError):
    """Saved generations are missing, incomplete or do not match the benchmark they claim to be for."""


class MissingDependencyError(EvalError, dependencies.MissingDependencyError):
    """An optional heavy dependency (vllm, transformers, torch) is absent; the message names the extra."""


def missing_dependency(module: str, extra: str, purpose: str) -> Exception:
    """The error raised when a lazily imported optional dependency is not installed (this family's)."""
    return dependencies.missing_dependency(module, purpose, extra=extra, error=MissingDependencyError)
