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
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import datasets
from thoughtmill.curation.datasets_io import read_rows
from thoughtmill.curation.engine.backends import Backend, make_backend
from thoughtmill.curation.engine.cache import CacheWriter, ResponseCache
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.engine.errors import (
    InvalidStructuredOutput,
    RateLimited,
    RequestFailed,
    RetryableError,
)
from thoughtmill.curation.engine.progress import Progress, RunStats
from thoughtmill.curation.engine.ratelimit import RateLimiter
from thoughtmill.curation.engine.request import Request, Response
from thoughtmill.curation.engine.retry import first_retry_delay, retry_policy
from thoughtmill.curation.engine.tokens import TokenEstimator
from thoughtmill.curation.engine.writer import ShardWriter
from thoughtmill.curation.errors import AuthenticationError, CurationError, InputError

log = logging.getLogger("thoughtmill.engine")

BuildFn = Callable[[int, dict[str, Any]], Request]
ValidateFn = Callable[[Response], None]
HandleFn = Callable[[int, dict[str, Any], Response], list[dict[str, Any]]]

_YIELD_EVERY = 64  # cached rows processed between two yields to the event loop
_LOOKUP_CHUNK = 256  # rows read, built and looked up in the cache at once

_Row = tuple[int, dict[str, Any], Request, str]  # input position, row, request, cache key
_Item = tuple[int, dict[str, Any], Request, str, Response | None]  # ... and its cached answer


@dataclass
class RunPaths:
    """Files of one run, all under one directory."""

    root: Path

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def shards(self) -> Path:
        return self.root / "shards"

    @property
    def failures(self) -> Path:
        return self.root / "failures.jsonl"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected_responses.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"


class _Fatal(Exception):
    """Internal: carries the error that stops the run to the feeder loop."""


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
    ) -> None:
        self.teacher = teacher
        self.cache = ResponseCache(cache_dir)
        self.paths = RunPaths(Path(run_dir))
        self.backend = backend
        self.max_in_flight = max_in_flight or max(2 * teacher.max_concurrency, 32)
        self.on_failure = on_failure
        self.show_progress = progress
        self.rows_per_shard = rows_per_shard
        self.label = label or teacher.label
        self.stats = RunStats()
        self.estimator = TokenEstimator(teacher.tokenizer)

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
        """Synchronous wrapper around :meth:`arun` (works inside a running event loop too)."""
        coro = self.arun(rows, build, handle, validate=validate, total=total)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = asyncio.run(coro)
            except BaseException as exc:  # re-raised in the caller's thread
                box["error"] = exc

        import threading

        thread = threading.Thread(target=target, name="thoughtmill-engine")
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    async def arun(
        self,
        rows: Iterable[dict[str, Any]],
        build: BuildFn,
        handle: HandleFn,
        *,
        validate: ValidateFn | None = None,
        total: int | None = None,
    ) -> datasets.Dataset:
        with _long_lived_objects_frozen():
            return await self._arun(rows, build, handle, validate=validate, total=total)

    async def _arun(
        self,
        rows: Iterable[dict[str, Any]],
        build: BuildFn,
        handle: HandleFn,
        *,
        validate: ValidateFn | None,
        total: int | None,
    ) -> datasets.Dataset:
        self._build, self._handle, self._validate = build, handle, validate
        self.stats = RunStats(total_rows=total)
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
        self._backend = backend
        with open(self.paths.failures, "w") as failures, open(self.paths.rejected, "a") as rejected:
            self._failures_file, self._rejected_file = failures, rejected
            with Progress(self.stats, self.label, enabled=self.show_progress) as progress:
                ticker = asyncio.create_task(_tick(progress))
                self._cache_writer = CacheWriter(self.cache)
                try:
                    await backend.start()
                    self.limiter = RateLimiter(
                        self.teacher.max_concurrency,
                        self.teacher.requests_per_minute,
                        self.teacher.tokens_per_minute,
                    )
                    backend.on_rate_headers(self.limiter.observe_headers)
                    await self._feed(rows)
                finally:
                    ticker.cancel()
                    self._cache_writer.close()
                    await backend.close()
                    self.stats.elapsed_s = time.monotonic() - started
                    self._write_summary()
        if self._fatal is not None:
            raise self._fatal
        self.stats.output_rows = self.writer.rows_written + self.writer.rows_buffered
        dataset = self.writer.finalize(self.paths.dataset)
        self.stats.elapsed_s = time.monotonic() - started
        self._write_summary()
        return dataset

    # ------------------------------------------------------------------ the loop
    async def _feed(self, rows: Iterable[dict[str, Any]]) -> None:
        """Run a fixed pool of workers over one shared stream of looked-up rows.

        Not a task per row: each worker takes the next row, answers it (from the cache or the
        teacher) and only then takes another. There are as many workers as requests may be in
        flight at once (``max_concurrency``, or the window if smaller): more would only queue for
        the concurrency cap, a task switch per request. A request also takes a place in the window
        until its answer is committed, so however the commits lag, the requests sent and not yet
        stored never exceed the window, and a kill re-sends at most that many.
        """
        work = self._work(rows)
        workers = min(self.max_in_flight, self.teacher.max_concurrency)
        self._workers = [asyncio.create_task(self._worker(work)) for _ in range(workers)]
        # drain: what is already in flight is paid for; let it land in the cache
        outcomes = await asyncio.gather(*self._workers, return_exceptions=True)
        for outcome in outcomes:  # a bug in the engine itself is not swallowed
            if isinstance(outcome, Exception):
                raise outcome

    async def _worker(self, work: Iterator[_Item]) -> None:
        try:
            for index, row, request, key, cached in work:
                if cached is not None:
                    self.stats.cache_hits += 1
                    self._deliver(index, row, cached)
                    await self._yield_now_and_then()
                else:
                    await self._fetch(index, row, request, key)
                if self._fatal is not None:
                    return
        except _Fatal:
            return

    async def _yield_now_and_then(self) -> None:
        """A fully cached run never awaits anything: let the loop breathe every few rows."""
        self._hits_since_yield += 1
        if self._hits_since_yield >= _YIELD_EVERY:
            self._hits_since_yield = 0
            await asyncio.sleep(0)

    def _work(self, rows: Iterable[dict[str, Any]]) -> Iterator[_Item]:
        """Rows with their request, key and cached answer, read lazily a chunk at a time.

        One bulk cache lookup per chunk instead of one per row (so the rows in memory are the
        window plus at most one chunk). Rows before one that cannot be built still run; then the
        run stops.
        """
        numbered = enumerate(rows)
        while True:
            chunk, error = self._read_chunk(numbered)
            yield from self._looked_up(chunk)
            if error is not None:  # stop only now: every row before it has been handed out
                self._stop(error)
                raise _Fatal from error
            if len(chunk) < _LOOKUP_CHUNK:
                return

    def _read_chunk(
        self, numbered: Iterator[tuple[int, dict[str, Any]]]
    ) -> tuple[list[_Row], CurationError | None]:
        """The next rows with their requests and keys, up to the first that cannot be built."""
        chunk: list[_Row] = []
        for index, row in itertools.islice(numbered, _LOOKUP_CHUNK):
            try:
                request = self._build(index, row)
            except CurationError as exc:
                return chunk, exc
            chunk.append((index, row, request, request.cache_key()))
        return chunk, None

    def _looked_up(self, chunk: list[_Row]) -> Iterator[_Item]:
        """Each row of ``chunk`` with its cached answer, looked up in bulk.

        An answer not committed yet at lookup time counts as cached (it may be committed before
        its row's turn). Handed out one at a time, as workers ask: a row whose twin was in flight at
        lookup time (or came earlier in the chunk) is looked up again then, as the twin may have
        been answered since; a twin still in flight (or waiting for a window place) is waited for
        by ``_fetch``.
        """
        found = self.cache.get_many([key for *_, key in chunk]) if chunk else {}
        for *_, key in chunk:  # answered, not committed yet: it may be committed before its twin's turn
            if key not in found and (uncommitted := self._cache_writer.pending(key)) is not None:
                found[key] = uncommitted
        twins = {key for *_, key in chunk if key in self._in_flight}
        seen: set[str] = set()
        for index, row, request, key in chunk:
            cached = found.get(key)
            if cached is None and (key in twins or key in seen) and key not in self._in_flight:
                cached = self._cache_writer.pending(key) or self.cache.get(key)
            seen.add(key)
            yield index, row, request, key, cached

    async def _fetch(self, index: int, row: dict[str, Any], request: Request, key: str) -> None:
        shared = self._in_flight.get(key)
        if shared is not None:  # the same request is already on its way: wait for it
            try:
                response = await asyncio.shield(shared)
            except asyncio.CancelledError:
                raise
            except _Fatal:  # the run stopped before it was sent
                return
            except Exception as exc:  # the first sender recorded its row; this row gets its own record
                self._record_failure(index, _kind(exc), f"identical request of another row failed: {exc}")
                return
            self._deliver(index, row, response)
            return
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        # in flight from now, waiting for a window place included: a twin waits for this request
        self._in_flight[key] = future
        placed = committing = False
        try:
            await self._window.acquire()
            placed = True
            if self._fatal is not None:  # the run stopped while this row waited for a place: send nothing
                raise _Fatal
            response = await self._call(request)
        except _Fatal as exc:
            future.set_exception(exc)
            return
        except AuthenticationError as exc:
            self._stop(exc)
            future.set_exception(exc)
            return
        except (RequestFailed, RetryableError) as exc:
            future.set_exception(exc)
            self._record_failure(index, _kind(exc), str(exc), raw=getattr(exc, "raw", None))
            return
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:  # a backend bug fails its row loudly, never hangs its twins
            future.set_exception(exc)
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            log.exception("row %d: unexpected error from the backend", index)
            self._record_failure(index, "internal_error", detail)
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
        self._deliver(index, row, response)

    def _committed(self, error: BaseException | None) -> None:
        """An answer's batch was committed (or failed to be): its place in the window is free."""
        self._window.release()
        if error is not None:
            self._stop(CurationError(f"cannot store answers in the cache at {self.cache.directory}: {error}"))

    async def _call(self, request: Request) -> Response:
        """Send with retries; validate before caching so an invalid reply is never cached."""
        invalid_left = self.teacher.retry.max_invalid_structured
        while True:
            response = await self._send_with_retries(request)
            if self._validate is None:
                return response
            try:
                self._validate(response)
                return response
            except InvalidStructuredOutput as exc:
                self._reject(request, response, exc.reason)
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
            response = await self._backend.complete(request)
            used = response.usage.prompt_tokens + response.usage.completion_tokens or None
        except RateLimited as exc:
            self.stats.rate_limited += 1
            pause = exc.retry_after if exc.retry_after is not None else self.teacher.retry.backoff_initial_s
            self.limiter.cool_down(pause)
            raise
        finally:
            self.limiter.release(permit, used)
        self.stats.requests_ok += 1
        u = response.usage
        self.stats.add_usage(u.prompt_tokens, u.completion_tokens, u.reasoning_tokens, self.teacher.pricing)
        if response.finish_reason == "length":
            self.stats.length_truncated += 1
            if self.teacher.on_length == "retry":  # paid for: kept in the rejected file, then asked again
                self._reject(request, response, "finish_reason == 'length' (on_length: retry)")
                raise RetryableError("answer cut at max_tokens (finish_reason 'length')")
        return response

    def _on_retry(self, state: Any) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.debug("retry %d after %s", state.attempt_number, exc)

    # ------------------------------------------------------------------ results
    def _deliver(self, index: int, row: dict[str, Any], response: Response) -> None:
        if self._fatal is not None:
            return
        if self.teacher.on_length == "drop" and response.finish_reason == "length":
            self._record_failure(index, "length", "answer cut at max_tokens (on_length: drop)")
            return
        try:
            if self._validate is not None and response.parsed is None:
                self._validate(response)
            rows = self._handle(index, row, response)
        except InputError as exc:
            self._stop(exc)
            return
        except Exception as exc:  # a bug in parse fails its row; the cached answer stays
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._record_failure(index, "parse", f"parse() raised {detail}")
            return
        try:
            self.writer.add(index, rows)
        except InputError as exc:
            self._stop(exc)
            return
        self.stats.rows_done += 1

    def _record_failure(self, index: int, kind: str, message: str, raw: str | None = None) -> None:
        self.stats.count_failure(kind)
        self.stats.rows_done += 1
        record = {"row": index, "reason": kind, "error": message}
        if raw:
            record["raw"] = raw
        _write_line(self._failures_file, record)
        if self.on_failure == "raise":
            self._stop(CurationError(f"row {index} failed ({kind}): {message} (on_failure='raise')"))

    def _reject(self, request: Request, response: Response, why: str) -> None:
        """Keep a paid-for answer the engine refused, so it is never lost."""
        _write_line(
            self._rejected_file, {"cache_key": request.cache_key(), "why": why, **response.to_record()}
        )

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
        summary = {
            "teacher": self.teacher.label,
            "model": self.teacher.model,
            "dataset": str(self.paths.dataset),
            "cache": str(self.cache.directory),
            "fatal_error": str(self._fatal) if getattr(self, "_fatal", None) else None,
            **self.stats.to_dict(),
        }
        tmp = self.paths.summary.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=2))
        tmp.replace(self.paths.summary)


def _kind(exc: Exception) -> str:
    if isinstance(exc, InvalidStructuredOutput):
        return "invalid_structured_output"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, RetryableError):
        return "retries_exhausted"
    status = getattr(exc, "status", None)
    return f"http_{status}" if status else "request_failed"


def _write_line(handle: TextIO, record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    handle.flush()


@contextlib.contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Keep what existed before the run out of the garbage collector's full passes while it lasts.

    Importing datasets, pyarrow and pandas leaves ~120k long-lived objects, and every full
    collection the run's garbage triggers rescans them all: ~8% of the loop's CPU at full speed.
    ``gc.freeze`` sets them aside (nothing is lost: they are still freed once unreachable after
    ``unfreeze``).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _tick(progress: Progress) -> None:
    while True:
        await asyncio.sleep(0.5)
        progress.update()


def iter_rows(data: Any) -> tuple[Iterator[dict[str, Any]], int | None]:
    """Rows of a Dataset (read in Arrow batches), a list, or any iterable, with the count when known."""
    if isinstance(data, datasets.Dataset):
        return read_rows(data, 512), len(data)  # plain file reads: the input does not stay mapped
    if isinstance(data, datasets.IterableDataset):
        return iter(data), None
    total = len(data) if hasattr(data, "__len__") else None
    return iter(data), total
