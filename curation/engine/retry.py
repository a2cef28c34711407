"""The retry policy, declared with tenacity rather than hand-rolled.

Retried: 429 (after the shared cool-down), 5xx, timeouts, dropped connections, malformed bodies, and
answers cut by max_tokens when the teacher config asks for that. Never retried: 400/404 (the request
itself is wrong) and 401/403 (which stop the run). Waits are exponential with full jitter, but never
shorter than what the server asked for in ``Retry-After``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential
from thoughtmill.curation.engine.config import RetryConfig
from thoughtmill.curation.engine.errors import RetryableError


def retry_policy(
    config: RetryConfig,
    on_retry: Callable[[RetryCallState], None] | None = None,
    *,
    attempts_used: int = 0,
) -> AsyncRetrying:
    """A fresh tenacity controller for one request (``attempts_used`` already spent elsewhere)."""
    backoff = wait_random_exponential(multiplier=config.backoff_initial_s, max=config.backoff_max_s)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return _delay(exc, backoff(state), config)

    return AsyncRetrying(
        retry=retry_if_exception_type(RetryableError),
        stop=stop_after_attempt(max(1, config.max_attempts - attempts_used)),
        wait=wait,
        before_sleep=on_retry,
        reraise=True,
    )


def first_retry_delay(exc: BaseException, config: RetryConfig) -> float:
    """The wait after a failed first attempt: the same rule the tenacity policy applies."""
    backoff = random.uniform(0, min(config.backoff_initial_s, config.backoff_max_s))
    return _delay(exc, backoff, config)


def _delay(exc: BaseException | None, backoff: float, config: RetryConfig) -> float:
    """Exponential backoff with full jitter, never shorter than the server's ``Retry-After``."""
    if isinstance(exc, RetryableError) and exc.retry_after is not None:
        return max(exc.retry_after, min(backoff, config.backoff_initial_s))
    return backoff
