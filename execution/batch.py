"""`run_batch`: judge many solutions through a backend (local processes, or Ray), with retries.

The backends differ only in how a chunk is started and awaited (`LocalPool`, `RayPool`); the bounded
scheduling is `execution.scheduler`'s. An infrastructure failure (a judge killed mid-verify, a
sandbox that did not start in time, the pool's per-solution deadline) says nothing about the
solution: it is judged again, up to ``retries`` times, and only then reported as a `sandbox_error`
verdict with ``infrastructure_failure=True`` (never to be recorded as the solution's verdict).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

from thoughtmill.execution import compare
from thoughtmill.execution import sandbox as sb
from thoughtmill.execution.errors import ExecutionError
from thoughtmill.execution.pool import LocalPool
from thoughtmill.execution.ray_backend import RayPool
from thoughtmill.execution.scheduler import BoundedScheduler, chunked
from thoughtmill.execution.types import Limits, Status, Verdict
from thoughtmill.execution.work import Item, WorkItem, number_items

#: how long the judge may take beyond the solution's own ``total_time_s`` (sandbox start-up, teardown,
#: comparison) before the pool kills it
JUDGE_GRACE_S = 30.0
#: how many times an infrastructure failure is judged again before it is reported
RETRIES = 2

BACKENDS: dict[str, Callable[..., Any]] = {}


def register_backend(name: str, factory: Callable[..., Any]) -> None:
    """Make ``run_batch(..., backend=name)`` use ``factory(workers, limits, mode, deadline_s, **options)``,
    a context manager with ``max_in_flight``, ``start(chunk) -> handle`` and
    ``wait_any(handles) -> [(handle, ChunkOutcome), ...]``."""
    BACKENDS[name] = factory


register_backend("local", LocalPool)
register_backend("ray", RayPool)


def run_batch(
    items: Iterable[Item],
    limits: Limits | None = None,
    *,
    workers: int | None = None,
    mode: str = compare.STRICT,
    backend: str = "local",
    chunk_size: int = 1,
    retries: int = RETRIES,
    judge_deadline_s: float | None = None,
    unsafe_weak_isolation: bool = False,
    **backend_options: Any,
) -> Iterator[tuple[Hashable, Verdict]]:
    """Judge (id, code, test_cases) items concurrently; yields (id, Verdict) in completion order.

    Items are consumed lazily (a bounded number of chunks in flight), so memory stays bounded on any
    input size. ``backend="ray"`` runs the same work on a Ray cluster (options such as ``address`` go
    to it). ``judge_deadline_s`` (default ``total_time_s`` + 30 s) bounds the judgement of each
    solution, whatever happens inside the judge. Without real isolation here (see
    `sandbox.require_isolation`) it raises `WeakIsolationRefused` unless ``unsafe_weak_isolation=True``.
    """
    compare.check_mode(mode)
    sb.require_isolation(unsafe_weak_isolation)
    limits = limits or Limits()
    factory = BACKENDS.get(backend)
    if factory is None:
        raise ExecutionError(f"backend must be one of {sorted(BACKENDS)}, got {backend!r}")
    if retries < 0:
        raise ExecutionError(f"retries must be >= 0, got {retries}")
    deadline_s = judge_deadline_s or limits.total_time_s + JUDGE_GRACE_S
    ids: dict[int, Hashable] = {}
    attempts: dict[int, int] = {}
    work = chunked(number_items(items, ids), max(1, chunk_size))
    with factory(workers, limits, mode, deadline_s, **backend_options) as pool:
        scheduler: BoundedScheduler[list[WorkItem], Any, Any] = BoundedScheduler(
            pool.start, pool.wait_any, pool.max_in_flight
        )
        for chunk, outcome in scheduler.run(work):
            by_index = {item[0]: item for item in chunk}
            verdicts = list(outcome.verdicts)
            for pos, item in enumerate(outcome.unfinished):
                if pos < outcome.in_flight:
                    failed = Verdict(
                        Status.SANDBOX_ERROR, detail=outcome.failure, infrastructure_failure=True
                    )
                    verdicts.append((item[0], failed))
                else:
                    scheduler.retry([item])  # never started: not an attempt
            for idx, verdict in verdicts:
                if verdict.infrastructure_failure and attempts.get(idx, 0) < retries:
                    attempts[idx] = attempts.get(idx, 0) + 1
                    scheduler.retry([by_index[idx]])
                    continue
                attempts.pop(idx, None)
                yield ids.pop(idx), verdict
