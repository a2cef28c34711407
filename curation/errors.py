"""The curation package's exception family: every message names the row, field or file at fault."""

from __future__ import annotations

from thoughtmill import dependencies


class CurationError(Exception):
    """Base class for errors raised by thoughtmill's curation side (engine, sources, pipeline)."""


class ConfigError(CurationError):
    """A configuration file or override is invalid (unknown key, missing field, bad value)."""


class InputError(CurationError):
    """A row of the input is not what a stage expects (missing column, bad value)."""


class AuthenticationError(CurationError):
    """The teacher rejected our credentials (HTTP 401/403): the whole run stops at once."""


class MissingDependencyError(CurationError, dependencies.MissingDependencyError):
    """An optional heavy dependency is absent; the message names the pip extra that installs it."""


def missing_dependency(module: str, extra: str, purpose: str) -> Exception:
    """The error raised when a lazily imported optional dependency is not installed (this family's)."""
    return dependencies.missing_dependency(module, purpose, extra=extra, error=MissingDependencyError)
