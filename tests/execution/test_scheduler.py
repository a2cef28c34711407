"""The one bounded chunk scheduler: bounded in flight, lazy, completion order, retries first."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from thoughtmill.execution.scheduler import BoundedScheduler, chunked, first_completed


def test_chunked():
    assert list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunked([], 3)) == []


class FakeBackend:
    """Chunks 'finish' in reverse start order; records how many run at once."""

    def __init__(self) -> None:
        self.running: list[int] = []
        self.peak = 0
        self.n = 0

    def start(self, chunk: list[int]) -> int:
        self.n += 1
        self.running.append(self.n)
        self.peak = max(self.peak, len(self.running))
        return self.n

    def wait_any(self, handles: list[int]) -> list[tuple[int, str]]:
        handle = max(handles)
        self.running.remove(handle)
        return [(handle, f"done {handle}")]


def test_bounded_lazy_and_in_completion_order():
    pulled = []

    def source():
        for i in range(10):
            pulled.append(i)
            yield [i]

    backend = FakeBackend()
    sched = BoundedScheduler(backend.start, backend.wait_any, max_in_flight=3)
    it = sched.run(source())
    first = next(it)
    assert len(pulled) == 3 and first == ([2], "done 3")  # the latest started finishes first here
    rest = list(it)
    assert sorted(c[0] for c, _ in [first, *rest]) == list(range(10))
    assert backend.peak == 3


def test_retry_runs_again_before_new_work():
    backend = FakeBackend()
    sched = BoundedScheduler(backend.start, backend.wait_any, max_in_flight=1)
    seen = []
    for chunk, _ in sched.run([["a"], ["b"]]):
        seen.append(chunk[0])
        if chunk == ["a"] and seen.count("a") == 1:
            sched.retry(["a"])
    assert seen == ["a", "a", "b"]


def test_retry_after_the_source_is_exhausted():
    backend = FakeBackend()
    sched = BoundedScheduler(backend.start, backend.wait_any, max_in_flight=2)
    seen = []
    for chunk, _ in sched.run([["x"]]):
        seen.append(chunk[0])
        if len(seen) == 1:
            sched.retry(["x"])
    assert seen == ["x", "x"]


def test_with_a_real_futures_pool():
    with ThreadPoolExecutor(2) as pool:
        sched = BoundedScheduler(
            lambda c: pool.submit(lambda: (time.sleep(0.01 * c[0]), sum(c))[1]), first_completed, 2
        )
        got = dict((tuple(c), r) for c, r in sched.run(chunked(range(6), 2)))
    assert got == {(0, 1): 1, (2, 3): 5, (4, 5): 9}


def test_in_flight_must_be_positive():
    with pytest.raises(ValueError):
        BoundedScheduler(lambda c: c, lambda h: [], 0)
