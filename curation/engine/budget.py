"""A hard spending cap: ``budget_usd`` per run or per ``LLM`` call.

Before each request is sent, its cost is estimated and the request is sent only if what the run's
answers have cost so far (cached answers included, at their stored usage, so a resumed run counts
what earlier invocations paid) plus what is in flight plus this estimate stays within the cap. Once
one request is refused the cap is closed: nothing more is sent, what is in flight is finished and
stored, cached rows are still served, and the rows not sent are left out (a re-run with a higher cap
sends just those).

The estimate is the mean cost of the answers seen so far; before the first, the prompt (estimated
from its characters) plus ``max_tokens`` output tokens (``FIRST_GUESS_OUTPUT_TOKENS`` without one).
The cap holds to within how much the answers in flight differ from that mean.
"""

from __future__ import annotations

from dataclasses import dataclass

from thoughtmill.curation.engine.config import Pricing
from thoughtmill.curation.engine.progress import RunStats
from thoughtmill.curation.engine.request import Request, Usage
from thoughtmill.curation.engine.tokens import TokenEstimator

#: output tokens assumed for a request with no max_tokens before any answer has been seen
FIRST_GUESS_OUTPUT_TOKENS = 8192


@dataclass
class RunBudget:
    """One cap shared by the calls of a run made one after another (generation, then each judge):
    each call may spend what is left, and adds what its answers cost when it is done."""

    limit_usd: float
    spent_usd: float = 0.0

    def remaining(self) -> float:
        return max(0.0, self.limit_usd - self.spent_usd)


def check_budget(value: float | None) -> float | None:
    if value is not None and value < 0:
        raise ValueError(f"budget_usd must be a number of dollars >= 0, got {value}")
    return value


class SpendingCap:
    """Admits a request when its estimated cost fits under the cap; tracks what is reserved in flight."""

    def __init__(self, limit_usd: float | None, pricing: Pricing, stats: RunStats, estimator: TokenEstimator):
        self.limit = limit_usd
        self.pricing = pricing
        self.stats = stats
        self.estimator = estimator
        self.reserved = 0.0
        self.closed = False

    def estimate(self, request: Request) -> float:
        answers = self.stats.requests_ok + self.stats.cache_hits
        if answers and self.stats.total_cost_usd > 0:
            return self.stats.total_cost_usd / answers
        output = int(
            request.params.get("max_tokens")
            or request.params.get("max_completion_tokens")
            or FIRST_GUESS_OUTPUT_TOKENS
        )
        prompt = self.estimator.prompt_tokens(request.messages)
        return self.pricing.usage_cost(Usage(prompt_tokens=prompt, completion_tokens=output))

    def admit(self, request: Request) -> float | None:
        """The amount reserved for this request, or None: sending it could cross the cap (now closed)."""
        if self.limit is None:
            return 0.0
        if self.closed:
            return None
        cost = self.estimate(request)
        if self.stats.total_cost_usd + self.reserved + cost > self.limit:
            self.closed = True
            return None
        self.reserved += cost
        return cost

    def settle(self, reserved: float) -> None:
        """The request is answered (its real cost is in ``stats``) or failed: free its reservation."""
        self.reserved = max(0.0, self.reserved - reserved)

    def message(self, label: str) -> str | None:
        """What to tell the user when the cap stopped the run (None when it did not)."""
        if not self.stats.not_sent_budget:
            return None
        projected = self.stats.projected_cost() or 0.0
        estimate = f" (about ${projected:.2f} for every row)" if projected > (self.limit or 0) else ""
        return (
            f"{label}: budget_usd=${self.limit:.2f} reached: ${self.stats.total_cost_usd:.4f} spent on this run's "
            f"answers (earlier invocations included), {self.stats.not_sent_budget} row(s) not sent and not in "
            f"the result; to finish, run again with a higher cap{estimate}: "
            "what is paid for is reused from the cache and counts toward the new cap"
        )
