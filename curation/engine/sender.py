"""Sending one request until it has an answer worth keeping: rate limits, retries, re-asks.

A transient failure (429, 5xx, timeout, a cut answer when ``on_length: retry``) is retried by the
declared tenacity policy; a reply that does not validate against the response format is asked again
up to ``retry.max_invalid_structured`` times. Every answer paid for and refused is kept in the run's
rejected log, never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from thoughtmill.curation.engine.backends import Backend
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.engine.errors import InvalidStructuredOutput, RateLimited, RetryableError
from thoughtmill.curation.engine.progress import RunStats
from thoughtmill.curation.engine.ratelimit import RateLimiter
from thoughtmill.curation.engine.request import Request, Response
from thoughtmill.curation.engine.retry import first_retry_delay, retry_policy
from thoughtmill.curation.engine.tokens import TokenEstimator

log = logging.getLogger("thoughtmill.engine")

ValidateFn = Callable[[Response], None]
RejectFn = Callable[[Request, Response, str], None]  # keep a refused answer: request, answer, why


class Sender:
    """One teacher's sending side for one run; counts what it sends and pays in ``stats``."""

    def __init__(
        self,
        teacher: TeacherConfig,
        backend: Backend,
        stats: RunStats,
        *,
        validate: ValidateFn | None,
        reject: RejectFn,
    ) -> None:
        self.teacher = teacher
        self.backend = backend
        self.stats = stats
        self.validate = validate
        self.reject = reject
        self.estimator = TokenEstimator(teacher.tokenizer)
        self.limiter = RateLimiter(
            teacher.max_concurrency, teacher.requests_per_minute, teacher.tokens_per_minute
        )
        backend.on_rate_headers(self.limiter.observe_headers)

    async def call(self, request: Request) -> Response:
        """Send with retries; validate before caching so an invalid reply is never cached."""
        invalid_left = self.teacher.retry.max_invalid_structured
        while True:
            response = await self._send_with_retries(request)
            if self.validate is None:
                return response
            try:
                self.validate(response)
                return response
            except InvalidStructuredOutput as exc:
                self.reject(request, response, exc.reason)
                if invalid_left <= 0:
                    raise
                invalid_left -= 1
                self.stats.retries += 1

    async def _send_with_retries(self, request: Request) -> Response:
        """One attempt; if it fails transiently, the declared tenacity policy takes over.

        The first attempt runs outside tenacity only because building a retry controller per
        request costs ~15% of the loop's time at full speed; the policy still counts it (the
        retried call continues from attempt 2 of ``max_attempts``).
        """
        # estimating costs ~10% of the loop at full speed: only pay for it when a tokens/min limit needs it
        estimate = (
            self.estimator.request_tokens(request.messages, request.params)
            if self.teacher.tokens_per_minute
            else 0.0
        )
        try:
            return await self._attempt(request, estimate)
        except RetryableError as first:
            if self.teacher.retry.max_attempts <= 1:
                raise
            self.stats.retries += 1
            await asyncio.sleep(first_retry_delay(first, self.teacher.retry))
        async for attempt in retry_policy(self.teacher.retry, self._on_retry, attempts_used=1):
            with attempt:
                return await self._attempt(request, estimate)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _attempt(self, request: Request, estimate: float) -> Response:
        permit = await self.limiter.acquire(estimate)
        used: float | None = None
        self.stats.requests_sent += 1
        try:
            response = await self.backend.complete(request)
            used = response.usage.prompt_tokens + response.usage.completion_tokens or None
        except RateLimited as exc:
            self.stats.rate_limited += 1
            pause = exc.retry_after if exc.retry_after is not None else self.teacher.retry.backoff_initial_s
            self.limiter.cool_down(pause)
            raise
        finally:
            self.limiter.release(permit, used)
        self.stats.requests_ok += 1
        self.stats.add_usage(response.usage, self.teacher.pricing)
        if response.finish_reason == "length":
            self.stats.length_truncated += 1
            if self.teacher.on_length == "retry":  # paid for: kept in the rejected file, then asked again
                self.reject(request, response, "finish_reason == 'length' (on_length: retry)")
                raise RetryableError("answer cut at max_tokens (finish_reason 'length')")
        return response

    def _on_retry(self, state: Any) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.debug("retry %d after %s", state.attempt_number, exc)
