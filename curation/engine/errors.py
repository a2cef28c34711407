"""How a request can fail, sorted by what the engine does about it.

Backends translate their transport's failures into these classes; the retry policy and the runner
decide from the class alone: retry (with or without a shared cool-down), record the row as failed,
or stop the whole run.
"""

from __future__ import annotations

from thoughtmill.curation.errors import AuthenticationError, CurationError

__all__ = [
    "AuthenticationError",
    "InvalidStructuredOutput",
    "RateLimited",
    "RequestFailed",
    "RetryableError",
    "RunInterrupted",
    "RunStopped",
    "failure_kind",
]


class RequestFailed(CurationError):
    """A request that will not succeed by retrying it (HTTP 400/404, no recorded answer, ...)."""

    def __init__(self, reason: str, *, status: int | None = None, raw: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.raw = raw  # what the teacher said, kept so paid-for text is never lost


class RetryableError(CurationError):
    """A transient failure: 5xx, timeout, dropped connection, malformed body, truncated answer."""

    def __init__(self, reason: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


class RateLimited(RetryableError):
    """HTTP 429: every request pauses (shared cool-down), then this one is retried."""


class InvalidStructuredOutput(RequestFailed):
    """The reply did not validate against the response format; re-asked a bounded number of times."""


class RunInterrupted(CurationError):
    """The run was interrupted (Ctrl-C, or its task cancelled); recorded as its fatal error."""


class RunStopped(Exception):
    """Internal signal, not an error to report: the run is stopping, take no more rows.

    The error that stopped it is kept by the engine; this only tells workers and twins to let go.
    """


def failure_kind(exc: BaseException) -> str:
    """The ``reason`` a failed row gets in ``failures.jsonl`` and in the summary's counts."""
    if isinstance(exc, InvalidStructuredOutput):
        return "invalid_structured_output"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, RetryableError):
        return "retries_exhausted"
    status = getattr(exc, "status", None)
    return f"http_{status}" if status else "request_failed"
