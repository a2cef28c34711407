"""``mode: batch``: answer a run's uncached requests through the provider's batch API, into the cache.

1. Read the ledger: spools already submitted (or about to be) are pending; their requests are not
   spooled again.
2. Spool every request that has no cached answer and is not pending (identical ones once), split at
   the provider's limits.
3. Submit each spool that has no batch id yet (its id fsync'd to the ledger the moment it comes).
4. Poll every batch until it ends; put each answer into the response cache under the request's own
   cache key (so a later live run reuses it), then mark the spool collected.
5. What did not come back (errored, expired, cancelled, cut when ``on_length: retry``, invalid
   structured output) goes into a new batch (``retry_failed: batch``, up to ``max_rounds``), or is
   left for the live path (``live``) or recorded as failed (``none``) by the engine.

A run killed anywhere resumes from the ledger: it polls what it submitted, collects what ended, and
submits only what it never submitted. Answers are billed at the teacher's batch price.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thoughtmill.curation.engine.backends.base import Backend
from thoughtmill.curation.engine.batch.client import BatchClient, BatchState, ItemResult
from thoughtmill.curation.engine.batch.ledger import Ledger, SpoolRecord
from thoughtmill.curation.engine.batch.leftovers import BatchLeftovers
from thoughtmill.curation.engine.batch.registry import make_batch_client
from thoughtmill.curation.engine.batch.spool import custom_ids, read_lines, spool_lines, spool_requests
from thoughtmill.curation.engine.budget import SpendingCap
from thoughtmill.curation.engine.cache import ResponseCache
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.engine.errors import InvalidStructuredOutput, RetryableError
from thoughtmill.curation.engine.progress import RunStats
from thoughtmill.curation.engine.request import Request, Response
from thoughtmill.curation.engine.run_files import write_summary
from thoughtmill.curation.engine.tokens import TokenEstimator
from thoughtmill.curation.errors import ConfigError, CurationError

if TYPE_CHECKING:
    from thoughtmill.curation.engine.runner import Engine

log = logging.getLogger("thoughtmill.engine")

BATCH_DIR = "batches"
OUTCOME_FILE = "outcome.json"
_CHUNK = 256  # keys looked up / answers committed at once
_SUBMIT_ATTEMPTS = 5

ValidateFn = Callable[[Response], None]
BUDGET_REASON = "budget: not submitted, its estimated cost would have crossed budget_usd"


@dataclass
class BatchOutcome:
    """What the batch phase of one run did; ``unanswered`` maps a cache key to why it has no answer."""

    spooled: int = 0
    submitted_batches: int = 0
    answered: int = 0
    unanswered: dict[str, str] = field(default_factory=dict)
    bought: set[str] = field(default_factory=set)  # keys answered (and paid for) by this run's batches

    def summary(self) -> dict[str, Any]:
        """What ``RUN_DIR/batches/outcome.json`` says: counts, and the unanswered by reason."""
        reasons = Counter(why.split(":", 1)[0] for why in self.unanswered.values())
        return {
            "spooled": self.spooled,
            "submitted_batches": self.submitted_batches,
            "answered": self.answered,
            "unanswered": len(self.unanswered),
            "unanswered_reasons": dict(reasons),
        }


class BatchFlow:
    """One run's batch phase for one teacher (see the module docstring)."""

    def __init__(
        self,
        teacher: TeacherConfig,
        cache: ResponseCache,
        run_dir: Path,
        stats: RunStats,
        *,
        validate: ValidateFn | None = None,
        client: BatchClient | None = None,
        budget_usd: float | None = None,
    ) -> None:
        self.teacher = teacher
        self.options = teacher.batch
        self.cache = cache
        self.stats = stats
        self.validate = validate
        self.client = client or make_batch_client(teacher)
        self.ledger = Ledger(Path(run_dir) / BATCH_DIR)
        self.outcome = BatchOutcome()
        self.budget = _BatchBudget(budget_usd, teacher, stats) if budget_usd is not None else None

    async def run(self, requests: Iterable[Request]) -> BatchOutcome:
        await self.client.start()
        try:
            pending: set[str] = set()
            for record in self._pending():
                pending |= custom_ids(self.ledger.directory, record)
            uncached = self._uncached(requests, pending)
            new = spool_requests(uncached, self.client.line, self.client.effective_limits, self.ledger)
            self.outcome.spooled = sum(r.count for r in new)
            while self._pending():
                await self._submit_all()
                failed = await self._collect_all()
                self._retry_in_batch(failed)
        finally:
            await self.client.close()
            self.ledger.close()
        write_summary(self.ledger.directory / OUTCOME_FILE, self.outcome.summary())
        return self.outcome

    # ------------------------------------------------------------------ steps
    def _pending(self) -> list[SpoolRecord]:
        return [r for r in self.ledger.spools.values() if r.pending]

    def _uncached(self, requests: Iterable[Request], pending: set[str]) -> Iterator[tuple[str, Request]]:
        """Requests with no cached answer, not pending in a batch, each key once; stops at a row that
        cannot be built (the engine reports it when it reaches it)."""
        seen = set(pending)
        stream = iter(requests)
        while True:
            try:
                chunk = [(r.cache_key(), r) for r in itertools.islice(stream, _CHUNK)]
            except CurationError as exc:
                log.warning("batch: spooling stops at a row that cannot be built: %s", exc)
                return
            if not chunk:
                return
            keys = [key for key, _ in chunk]
            cached = (
                self.cache.index.lookup(keys) if self.budget is None else self.budget.cached(self.cache, keys)
            )
            for key, request in chunk:
                if key not in cached and key not in seen:
                    seen.add(key)
                    if self.budget is not None and not self.budget.admit(request):
                        self.outcome.unanswered[key] = BUDGET_REASON
                        continue
                    yield key, request

    async def _submit_all(self) -> None:
        for record in self._pending():
            if record.batch_id is None:
                await self._submit(record)

    async def _submit(self, record: SpoolRecord) -> None:
        for attempt in range(1, _SUBMIT_ATTEMPTS + 1):
            try:
                batch_id = await self.client.submit(record, self.ledger)
            except RetryableError as exc:  # the next attempt first looks for a batch this one created
                if attempt == _SUBMIT_ATTEMPTS:
                    raise
                delay = exc.retry_after or min(
                    self.teacher.retry.backoff_max_s, self.teacher.retry.backoff_initial_s * 2**attempt
                )
                log.warning(
                    "batch: submitting spool %s failed (%s); again in %.1fs", record.spool, exc, delay
                )
                await asyncio.sleep(delay)
                continue
            self.outcome.submitted_batches += 1
            log.info("batch: spool %s (%d requests) submitted as %s", record.spool, record.count, batch_id)
            return

    async def _collect_all(self) -> dict[str, SpoolRecord]:
        """Poll every submitted batch until it ends and collect it; the failed keys, with their spool."""
        records = [r for r in self._pending() if r.batch_id is not None]
        failed: dict[str, SpoolRecord] = {}
        for part in await asyncio.gather(*(self._poll_and_collect(r) for r in records)):
            failed.update(part)
        return failed

    async def _poll_and_collect(self, record: SpoolRecord) -> dict[str, SpoolRecord]:
        assert record.batch_id is not None
        while True:
            state = await self.client.state(record.batch_id)
            if state.ended:
                break
            log.info("batch %s (spool %s): %s %s", state.batch_id, record.spool, state.status, state.counts)
            await asyncio.sleep(self.options.poll_interval_s)
        return await self._collect(record, state)

    async def _collect(self, record: SpoolRecord, state: BatchState) -> dict[str, SpoolRecord]:
        wanted = custom_ids(self.ledger.directory, record)
        seen: set[str] = set()
        answers: list[tuple[str, Response]] = []
        failed: dict[str, str] = {}
        async for item in self.client.results(state):
            if item.key not in wanted or item.key in seen:
                log.warning(
                    "batch %s: ignoring a result for an unknown or repeated custom_id %r",
                    state.batch_id,
                    item.key,
                )
                continue
            seen.add(item.key)
            why = self._refusal(item)
            if why is None:
                assert item.response is not None
                answers.append((item.key, item.response))
                self.outcome.bought.add(item.key)
                if len(answers) >= _CHUNK:
                    self.cache.put_many(answers)
                    answers = []
            else:
                failed[item.key] = why
        self.cache.put_many(answers)  # committed before the ledger says "collected"
        for key in wanted - seen:
            failed[key] = f"{state.status}: {state.note or 'no result for this request'}"
        answered = len(wanted) - len(failed)
        self.outcome.answered += answered
        for key in wanted:  # an answer in this round settles a failure of an earlier one
            if key in failed:
                self.outcome.unanswered[key] = failed[key]
            else:
                self.outcome.unanswered.pop(key, None)
        self.ledger.collected(
            record.spool, {"status": state.status, "answered": answered, "failed": len(failed)}
        )
        log.info(
            "batch %s (spool %s) %s: %d answered, %d not",
            state.batch_id,
            record.spool,
            state.status,
            answered,
            len(failed),
        )
        return {key: record for key in failed}

    def _refusal(self, item: ItemResult) -> str | None:
        """Why a result is not cached (None: it is); a paid answer is counted at the batch price either way."""
        if item.response is None:
            return f"{item.failure}: {item.message}" if item.message else str(item.failure)
        response = item.response
        self.stats.requests_sent += 1
        self.stats.requests_ok += 1
        self.stats.add_usage(response.usage, self.teacher.pricing, batch=True)
        if response.finish_reason == "length":
            self.stats.length_truncated += 1
            if self.teacher.on_length == "retry":
                return "length: answer cut at max_tokens (on_length: retry)"
        if self.validate is not None:
            try:
                self.validate(response)
            except InvalidStructuredOutput as exc:
                return f"invalid_structured_output: {exc.reason}"
        return None

    def _retry_in_batch(self, failed: dict[str, SpoolRecord]) -> None:
        """Spool the failed requests again (``retry_failed: batch``) while they have rounds left."""
        if self.options.retry_failed != "batch" or not failed:
            return
        by_spool: dict[str, list[str]] = {}
        for key, record in failed.items():
            if record.round < self.options.max_rounds:
                by_spool.setdefault(record.spool, []).append(key)
        for spool, keys in by_spool.items():
            record = self.ledger.spools[spool]
            wanted = set(keys)
            lines = (
                line
                for line in read_lines(self.ledger.directory, record)
                if json.loads(line)["custom_id"] in wanted
            )
            spool_lines(lines, self.client.effective_limits, self.ledger, record.round + 1)
            for key in keys:
                self.outcome.unanswered.pop(key, None)


async def answer_by_batch(engine: Engine, live: Backend, validate: ValidateFn | None) -> Backend:
    """The engine's batch phase: fill the cache through the batch API, then hand back the backend
    that deals with what is still unanswered (see ``leftovers``)."""
    if engine.batch_requests is None:
        raise ConfigError(
            f"teacher '{engine.teacher.label}' has mode: batch, but this engine run was not given its requests "
            "up front (run it through LLM, which does)"
        )
    flow = BatchFlow(
        engine.teacher,
        engine.cache,
        engine.paths.root,
        engine.stats,
        validate=validate,
        budget_usd=engine.budget_usd,
    )
    outcome = await flow.run(engine.batch_requests())
    engine.bought_in_batch = outcome.bought
    log.info(
        "%s: batch phase done: %d spooled, %d batch(es) submitted, %d answered, %d left (%s)",
        engine.label,
        outcome.spooled,
        outcome.submitted_batches,
        outcome.answered,
        len(outcome.unanswered),
        engine.teacher.batch.retry_failed,
    )
    return BatchLeftovers(live, outcome.unanswered)


class _BatchBudget:
    """``budget_usd`` for what is submitted: a request is spooled only while what the run's answers
    cost (the cached ones, at the batch price) plus the estimates of what is spooled fits the cap.

    The estimate is the engine's first guess (the prompt plus ``max_tokens`` of output), at the
    batch price; once one request does not fit, nothing more is spooled.
    """

    def __init__(self, limit: float, teacher: TeacherConfig, stats: RunStats) -> None:
        self.limit = limit
        self.pricing = teacher.pricing
        self.guess = SpendingCap(limit, teacher.pricing, RunStats(), TokenEstimator(teacher.tokenizer))
        self.spent = 0.0  # cached answers' cost + estimates of what is spooled
        self.closed = False

    def cached(self, cache: ResponseCache, keys: list[str]) -> Container[str]:
        """The keys with a cached answer, their cost counted toward the cap."""
        found = cache.get_many(keys)
        self.spent += sum(self.pricing.usage_cost(r.usage, batch=True) for r in found.values())
        return found

    def admit(self, request: Request) -> bool:
        if not self.closed:
            cost = self.guess.estimate(request) * (1.0 - self.pricing.batch_discount)
            if self.spent + cost <= self.limit:
                self.spent += cost
                return True
            self.closed = True
        return False
