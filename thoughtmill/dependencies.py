"""One way to say that an optional heavy dependency is missing, and how to install it.

vllm, llamafactory, ray and transformers are imported lazily inside the module that needs them; when the
import fails, every package raises the same message built here, as its own exception family (so the
CLI's ``except CurationError`` still catches it).
"""

from __future__ import annotations


class MissingDependencyError(ImportError):
    """An optional dependency is absent; the message names what installs it."""


def missing_dependency(
    module: str,
    purpose: str,
    *,
    extra: str | None = None,
    hint: str | None = None,
    error: type[Exception] = MissingDependencyError,
) -> Exception:
    """The error for a missing optional ``module``: the pip extra that installs it, or ``hint``."""
    if hint is None:
        hint = f"Install it with: pip install 'thoughtmill[{extra or module}]'"
    return error(f"{purpose} needs the optional dependency '{module}', which is not installed. {hint}")
