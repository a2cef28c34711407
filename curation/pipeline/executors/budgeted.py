"""A teacher backend that draws every request from a budget shared across ranks.

The engine's own limiter still holds each rank to its concurrency cap; this wrapper (handed to the
engine through ``LLM(backend=...)``) makes each request also wait for the provider's global
requests/min and tokens/min budget, refunds what the real usage did not need, and turns a 429 seen by
one rank into a pause for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from thoughtmill.curation.engine.backends import Backend
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.engine.errors import RateLimited
from thoughtmill.curation.engine.providers import make_backend
from thoughtmill.curation.engine.request import Request, Response
from thoughtmill.curation.engine.tokens import TokenEstimator


class Budget(Protocol):
    """Where a shared budget lives (a Ray actor, or in-process); every method is awaited."""

    async def acquire(self, estimated_tokens: float) -> float: ...

    async def refund(self, amount: float) -> None: ...

    async def cool_down(self, seconds: float) -> None: ...


class BudgetedBackend(Backend):
    """``inner`` (the teacher's own backend), each request first granted by ``budget``."""

    def __init__(self, inner: Backend, budget: Budget) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self.budget = budget
        self.supports_json_schema = inner.supports_json_schema
        self.estimator = TokenEstimator(inner.config.tokenizer) if inner.config.tokens_per_minute else None

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    def on_rate_headers(self, callback: Callable[[Mapping[str, str]], None]) -> None:
        self.inner.on_rate_headers(callback)

    async def complete(self, request: Request) -> Response:
        estimate = self.estimator.request_tokens(request.messages, request.params) if self.estimator else 0.0
        reserved = await self.budget.acquire(estimate)
        try:
            response = await self.inner.complete(request)
        except Exception as exc:  # not cancellation: a cancelled run does not wait for the budget
            if isinstance(exc, RateLimited):
                pause = (
                    exc.retry_after if exc.retry_after is not None else self.config.retry.backoff_initial_s
                )
                await self.budget.cool_down(pause)
            if reserved:
                await self.budget.refund(reserved)  # refused or failed: nothing used that we know of
            raise
        if reserved:
            used = response.usage.prompt_tokens + response.usage.completion_tokens
            await self.budget.refund(reserved - used)
        return response


def budgeted_backend(teacher: TeacherConfig, budget: Budget | None) -> Backend | None:
    """The backend a rank's engine should use: None (the engine builds its own) without a budget."""
    if budget is None:
        return None
    return BudgetedBackend(make_backend(teacher), budget)
