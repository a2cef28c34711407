"""The engine loop: feed requests lazily through a bounded window, cache every answer, stream results.

Shape of one run:
  rows ──► build request ──► cache hit? ──yes──► handle (parse) ──► shard writer
                                 │no
                                 ▼
   a fixed pool of workers (no task per row); a request holds a window place until committed
                                 ▼
        rate limiter ──► backend (retried by tenacity) ──► cache writer ──► handle ──► writer

Every answer goes to the cache writer the moment it arrives, before ``parse`` runs, and is committed
within milliseconds; it counts against the in-flight window until then. So a crash, a kill or a bug
in ``parse`` never costs more than the window: a re-run sends only what has no cached answer and
rebuilds the output from the cache in input order. Identical requests in flight at once are sent once.

The parts, one job each: ``feed`` (rows, requests, bulk cache lookups), ``sender`` (rate limits,
retries, re-asks), ``outcomes`` (parse, write, record failures), ``run_files`` (the run's logs and
summary), ``host`` (running from sync code). This module schedules: workers, twins, the window, stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, Container, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import datasets
from thoughtmill.curation.engine.backends import Backend
from thoughtmill.curation.engine.batch.flow import answer_by_batch
from thoughtmill.curation.engine.budget import SpendingCap, check_budget
from thoughtmill.curation.engine.cache import CacheWriter, ResponseCache
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.engine.dirlock import DirectoryLock
from thoughtmill.curation.engine.errors import (
    RequestFailed,
    RetryableError,
    RunInterrupted,
    RunStopped,
    failure_kind,
)
from thoughtmill.curation.engine.feed import BuildFn, RowFeed
from thoughtmill.curation.engine.host import long_lived_objects_frozen, run_blocking
from thoughtmill.curation.engine.outcomes import HandleFn, Outcomes
from thoughtmill.curation.engine.progress import Listener, Progress, RunStats
from thoughtmill.curation.engine.providers import make_backend
from thoughtmill.curation.engine.request import Request, Response
from thoughtmill.curation.engine.run_files import RunPaths, RunRecords, write_summary
from thoughtmill.curation.engine.sender import Sender, ValidateFn
from thoughtmill.curation.engine.tokens import TokenEstimator
from thoughtmill.curation.engine.writer import ShardWriter
from thoughtmill.curation.errors import AuthenticationError, CurationError

log = logging.getLogger("thoughtmill.engine")

_YIELD_EVERY = 64  # cached rows processed between two yields to the event loop


class Engine:
    """Runs one batch of rows against one teacher. ``LLM`` is the friendly face of this class."""

    def __init__(
        self,
        teacher: TeacherConfig,
        cache_dir: str | Path,
        run_dir: str | Path,
        *,
        backend: Backend | None = None,
        max_in_flight: int | None = None,
        on_failure: Literal["record", "raise"] = "record",
        progress: bool = True,
        rows_per_shard: int = 2000,
        label: str | None = None,
        wait_for_lock: bool | float = False,
        budget_usd: float | None = None,
        on_progress: Listener | None = None,
        batch_requests: Callable[[], Iterable[Request]] | None = None,
        earlier_caches: Sequence[Path] = (),
    ) -> None:
        self.teacher = teacher
        self.cache = ResponseCache(cache_dir, earlier_caches)  # earlier: read through, answers copied here
        self.paths = RunPaths(Path(run_dir))
        self.backend = backend
        self.max_in_flight = max_in_flight or max(2 * teacher.max_concurrency, 32)
        self.on_failure = on_failure
        self.show_progress = progress
        self.rows_per_shard = rows_per_shard
        self.label = label or teacher.label
        self.wait_for_lock = wait_for_lock
        self.budget_usd = check_budget(budget_usd)  # a hard cap on what the run's answers cost
        self.on_progress = on_progress  # told the counters on every progress tick
        # mode: batch reads the run's requests once up front (the rows are read again for the output)
        self.batch_requests = batch_requests
        self.bought_in_batch: Container[str] = frozenset()  # cache keys this run's batch phase paid for
        self.stats = RunStats()
        self._adopted_before = 0

    # ------------------------------------------------------------------ public entry points
    def run(
        self,
        rows: Iterable[dict[str, Any]],
        build: BuildFn,
        handle: HandleFn,
        *,
        validate: ValidateFn | None = None,
        total: int | None = None,
    ) -> datasets.Dataset:
        """Synchronous wrapper around :meth:`arun` (works inside a running event loop too).

        Ctrl-C stops the run after committing every answer received; what reaches the caller is one
        short ``KeyboardInterrupt`` saying so, not the event loop's chain of cancellations.
        """
        try:
            return run_blocking(self.arun(rows, build, handle, validate=validate, total=total))
        except KeyboardInterrupt:
            raise KeyboardInterrupt(self._interrupted_message()) from None

    async def arun(
        self,
        rows: Iterable[dict[str, Any]],
        build: BuildFn,
        handle: HandleFn,
        *,
        validate: ValidateFn | None = None,
        total: int | None = None,
    ) -> datasets.Dataset:
        lock = DirectoryLock(self.paths.root, wait=self.wait_for_lock, purpose=f"engine run '{self.label}'")
        self._adopted_before = self.cache.adopted  # endpoint records copied before the run are not answers
        await lock.acquire_async()  # waiting (if asked to) lets the caller's event loop run on
        try:
            with long_lived_objects_frozen():
                return await self._arun(rows, build, handle, validate=validate, total=total)
        finally:
            lock.release()

    async def _arun(
        self,
        rows: Iterable[dict[str, Any]],
        build: BuildFn,
        handle: HandleFn,
        *,
        validate: ValidateFn | None,
        total: int | None,
    ) -> datasets.Dataset:
        self.stats = RunStats(total_rows=total, budget_usd=self.budget_usd)
        self._cap = SpendingCap(
            self.budget_usd, self.teacher.pricing, self.stats, TokenEstimator(self.teacher.tokenizer)
        )
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.writer = ShardWriter(self.paths.shards, self.rows_per_shard)
        self._fatal: BaseException | None = None
        self._in_flight: dict[str, asyncio.Future[Response]] = {}
        # requests sent whose answers are not committed yet: never more than the window
        self._window = asyncio.Semaphore(self.max_in_flight)
        self._workers: list[asyncio.Task[None]] = []
        self._hits_since_yield = 0
        started = time.monotonic()
        backend = self.backend or make_backend(self.teacher)
        with RunRecords(self.paths) as records:
            self._records = records
            self._outcomes = Outcomes(
                handle=handle,
                validate=validate,
                writer=self.writer,
                records=records,
                stats=self.stats,
                drop_cut_answers=self.teacher.on_length == "drop",
                on_failure=self.on_failure,
                stop=self._stop,
            )
            with Progress(
                self.stats, self.label, enabled=self.show_progress, listener=self.on_progress
            ) as progress:
                ticker = asyncio.create_task(_tick(progress))
                self._cache_writer = CacheWriter(self.cache)
                try:
                    if self.teacher.mode == "batch":  # the uncached requests through the batch API first
                        backend = await answer_by_batch(self, backend, validate)
                    await backend.start()
                    self._sender = Sender(
                        self.teacher, backend, self.stats, validate=validate, reject=self._reject
                    )
                    await self._feed(rows, build)
                except asyncio.CancelledError:  # Ctrl-C (asyncio.run cancels the run) or a caller's cancel
                    self._fatal = self._fatal or RunInterrupted(self._interrupted_message())
                    raise
                finally:
                    ticker.cancel()
                    self._cache_writer.close()
                    await backend.close()
                    self.stats.elapsed_s = time.monotonic() - started
                    self._write_summary()
        if self._fatal is not None:
            raise self._fatal
        if (capped := self._cap.message(self.label)) is not None:
            log.warning(capped)
        self.stats.output_rows = self.writer.rows_written + self.writer.rows_buffered
        dataset = self.writer.finalize(self.paths.dataset)
        self.stats.elapsed_s = time.monotonic() - started
        self._write_summary()
        return dataset

    # ------------------------------------------------------------------ the loop
    async def _feed(self, rows: Iterable[dict[str, Any]], build: BuildFn) -> None:
        """Run a fixed pool of workers over one shared stream of looked-up rows.

        Not a task per row: each worker takes the next row, answers it (from the cache or the
        teacher) and only then takes another. There are as many workers as requests may be in
        flight at once (``max_concurrency``, or the window if smaller): more would only queue for
        the concurrency cap, a task switch per request. A request also takes a place in the window
        until its answer is committed, so however the commits lag, the requests sent and not yet
        stored never exceed the window, and a kill re-sends at most that many.
        """
        work = iter(RowFeed(rows, build, self.cache, self._cache_writer.pending, self._in_flight, self._stop))
        workers = min(self.max_in_flight, self.teacher.max_concurrency)
        self._workers = [asyncio.create_task(self._worker(work)) for _ in range(workers)]
        # drain: what is already in flight is paid for; let it land in the cache
        outcomes = await asyncio.gather(*self._workers, return_exceptions=True)
        for outcome in outcomes:  # a bug in the engine itself is not swallowed
            if isinstance(outcome, Exception):
                raise outcome

    async def _worker(self, work: Any) -> None:
        deliver = self._outcomes.deliver
        batch_priced = self.teacher.mode == "batch"  # a batch teacher's cached answers were bought in batches
        try:
            for index, row, request, key, cached in work:
                if cached is not None:
                    self.stats.cache_hits += 1
                    if key not in self.bought_in_batch:  # those were counted when this run's batch paid them
                        self.stats.add_cached_usage(cached.usage, self.teacher.pricing, batch=batch_priced)
                    if self._fatal is None:
                        deliver(index, row, cached)
                    await self._yield_now_and_then()
                else:
                    await self._fetch(index, row, request, key)
                if self._fatal is not None:
                    return
        except RunStopped:
            return

    async def _yield_now_and_then(self) -> None:
        """A fully cached run never awaits anything: let the loop breathe every few rows."""
        self._hits_since_yield += 1
        if self._hits_since_yield >= _YIELD_EVERY:
            self._hits_since_yield = 0
            await asyncio.sleep(0)

    async def _fetch(self, index: int, row: dict[str, Any], request: Request, key: str) -> None:
        """Answer one uncached row: wait for its twin in flight, or send it and commit the answer."""
        shared = self._in_flight.get(key)
        if shared is not None:  # the same request is already on its way: wait for it
            try:
                response = await asyncio.shield(shared)
            except asyncio.CancelledError:
                raise
            except RunStopped:  # the run stopped before it was sent
                return
            except Exception as exc:  # the first sender recorded its row; this row gets its own record
                self._outcomes.fail(
                    index, failure_kind(exc), f"identical request of another row failed: {exc}"
                )
                return
            if self._fatal is None:
                self._outcomes.deliver(index, row, response)
            return
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        # in flight from now, waiting for a window place included: a twin waits for this request
        self._in_flight[key] = future
        placed = committing = False
        reserved: float | None = None
        try:
            await self._window.acquire()
            placed = True
            if self._fatal is not None:  # the run stopped while this row waited for a place: send nothing
                raise RunStopped
            reserved = self._cap.admit(request)
            if reserved is None:  # sending it could cross budget_usd: the row is left out, unsent
                self.stats.not_sent_budget += 1
                raise RunStopped
            self.stats.in_flight += 1
            try:
                response = await self._sender.call(request)
            finally:
                self.stats.in_flight -= 1
                self._cap.settle(reserved)
        except RunStopped as exc:
            future.set_exception(exc)
            return
        except AuthenticationError as exc:
            self._stop(exc)
            future.set_exception(exc)
            return
        except (RequestFailed, RetryableError) as exc:
            future.set_exception(exc)
            self._outcomes.fail(index, failure_kind(exc), str(exc), raw=getattr(exc, "raw", None))
            return
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:  # a backend bug fails its row loudly, never hangs its twins
            future.set_exception(exc)
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            log.exception("row %d: unexpected error from the backend", index)
            self._outcomes.fail(index, "internal_error", detail)
            return
        else:
            self._cache_writer.add(key, response, self._committed)  # its window place is freed then
            committing = True
            future.set_result(response)
        finally:
            if self._in_flight.get(key) is future:
                del self._in_flight[key]
            if placed and not committing:  # no answer to store: its place in the window is free at once
                self._window.release()
            if future.done() and not future.cancelled():
                future.exception()  # mark retrieved: no "never retrieved" warnings
        if self._fatal is None:
            self._outcomes.deliver(index, row, response)

    def _committed(self, error: BaseException | None) -> None:
        """An answer's batch was committed (or failed to be): its place in the window is free."""
        self._window.release()
        if error is not None:
            self._stop(CurationError(f"cannot store answers in the cache at {self.cache.directory}: {error}"))

    def _interrupted_message(self) -> str:
        return (
            f"{self.label}: interrupted after {self.stats.rows_done} row(s); every answer received is kept in "
            f"the cache at {self.cache.directory}, so a re-run resumes from there"
        )

    def _reject(self, request: Request, response: Response, why: str) -> None:
        self._records.rejected(request.cache_key(), why, response)

    def _stop(self, exc: BaseException) -> None:
        """Workers finish what they hold and take no more rows; a refused key also stops those.

        With bad credentials every request in flight is refused too: cancel them rather than wait.
        """
        if self._fatal is None:
            self._fatal = exc
            log.error("stopping the run: %s", exc)
        if isinstance(exc, AuthenticationError):
            current = asyncio.current_task()
            for worker in self._workers:
                if worker is not current:
                    worker.cancel()

    def _write_summary(self) -> None:
        self.stats.cache_corrupt = self.cache.corrupt_entries
        self.stats.cache_adopted = self.cache.adopted - self._adopted_before
        write_summary(
            self.paths.summary,
            {
                "teacher": self.teacher.label,
                "model": self.teacher.model,
                "dataset": str(self.paths.dataset),
                "cache": str(self.cache.directory),
                "fatal_error": str(self._fatal) if getattr(self, "_fatal", None) else None,
                **self.stats.to_dict(),
            },
        )


async def _tick(progress: Progress) -> None:
    while True:
        await asyncio.sleep(0.5)
        progress.update()
