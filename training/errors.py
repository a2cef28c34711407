"""The training package's exception family: every message names the file, row or key at fault."""

from __future__ import annotations

from thoughtmill import dependencies


class TrainingError(Exception):
    """Base class for errors raised by thoughtmill's training hand-off."""


class ExportError(TrainingError):
    """A verified set cannot be exported (missing column, bad row, unreadable input)."""


class RecipeError(TrainingError):
    """A recipe or override is invalid (unknown preset, bad value, batch that does not divide)."""


class ConfigInvalid(TrainingError):
    """A LLaMA-Factory config failed validation; the message is the first error in plain words."""


class TrainEnvironmentMissing(TrainingError):
    """The LLaMA-Factory environment (.venv-train) cannot be found; the message says how to build it."""


class LaunchError(TrainingError):
    """`llamafactory-cli train` failed or produced no progress; the message carries its last output."""


def missing_dependency(module: str, purpose: str, hint: str) -> Exception:
    """Error for a lazily imported heavy dependency that is not installed."""
    return dependencies.missing_dependency(module, purpose, hint=hint, error=TrainingError)
