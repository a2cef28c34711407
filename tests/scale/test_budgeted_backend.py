"""The backend wrapper every rank's engine uses on a cluster: each request is granted by the shared
budget first, unused tokens go back, and a 429 seen by one rank pauses the budget for all of them
(real fake teacher over HTTP, real engine)."""

from __future__ import annotations

from thoughtmill.curation.engine import LLM
from thoughtmill.curation.engine.config import load_teacher
from thoughtmill.curation.engine.providers import make_backend
from thoughtmill.curation.engine.ratelimit import SharedBudget
from thoughtmill.curation.pipeline.executors.budgeted import BudgetedBackend

from tests.support.fake_teacher import FakeTeacher

from .conftest import teacher


class InProcessBudget:
    """A `SharedBudget` behind the awaitable interface a Ray actor offers, recording what it was told."""

    def __init__(self, **limits: float) -> None:
        self.shared = SharedBudget(**limits)
        self.refunds: list[float] = []
        self.pauses: list[float] = []

    async def acquire(self, estimated_tokens: float) -> float:
        return await self.shared.acquire(estimated_tokens)

    async def refund(self, amount: float) -> None:
        self.refunds.append(amount)
        self.shared.refund(amount)

    async def cool_down(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.shared.cool_down(seconds)


class Echo(LLM):
    def prompt(self, row):
        return row["q"]


def test_every_request_is_granted_and_its_unused_tokens_refunded(tmp_path):
    with FakeTeacher() as server:
        config = load_teacher(teacher(server.base_url, tokens_per_minute=1_000_000))
        budget = InProcessBudget(requests_per_minute=6000, tokens_per_minute=1_000_000)
        llm = Echo(
            config,
            working_dir=tmp_path,
            progress=False,
            backend=BudgetedBackend(make_backend(config), budget),
        )
        out = llm([{"q": f"question {k}"} for k in range(6)])
        assert len(out) == 6 and server.stats()["requests"] == 6
    assert budget.shared.count() == 6
    assert len(budget.refunds) == 6  # reserved from the estimate, settled from the real usage


def test_a_429_pauses_the_shared_budget_and_gives_its_tokens_back(tmp_path):
    with FakeTeacher() as server:
        config = load_teacher(teacher(server.base_url, tokens_per_minute=1_000_000))
        budget = InProcessBudget(requests_per_minute=6000, tokens_per_minute=1_000_000)
        llm = Echo(
            config,
            working_dir=tmp_path,
            progress=False,
            backend=BudgetedBackend(make_backend(config), budget),
        )
        out = llm([{"q": "hello [[fault:429:1:retry_after=0.3]]"}])
        assert len(out) == 1  # retried after the pause, answered
    assert budget.pauses == [0.3]
    assert budget.shared.count() == 2
    refused, answered = budget.refunds
    assert refused > 0  # the refused request's whole reservation came back
    assert answered < refused  # the answered one's reservation, less what it used
