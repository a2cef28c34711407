"""One bounded chunk scheduler for every pool of the house (sandbox judges, Ray actors, Math-Verify).

Work arrives as a lazy iterable of chunks; at most ``max_in_flight`` chunks run at once, so memory stays
bounded on any input size. A backend says only how a chunk is started (``start(chunk) -> handle``)
and how to wait until at least one running chunk is finished (``wait_any(handles) -> [(handle,
result), ...]``); results come back in completion order. A chunk handed to `retry` runs again ahead of
new work.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Generic, TypeVar

C = TypeVar("C")  # a chunk of work
H = TypeVar("H", bound=Hashable)  # the handle of a running chunk
R = TypeVar("R")  # what a finished chunk gives back
T = TypeVar("T")

_END: object = object()


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), read lazily."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class BoundedScheduler(Generic[C, H, R]):
    """Runs chunks through a backend with a bounded number in flight; yields ``(chunk, result)``."""

    def __init__(
        self,
        start: Callable[[C], H],
        wait_any: Callable[[Sequence[H]], Iterable[tuple[H, R]]],
        max_in_flight: int,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.start, self.wait_any, self.max_in_flight = start, wait_any, max_in_flight
        self.retries: collections.deque[C] = collections.deque()

    def retry(self, chunk: C) -> None:
        """Run ``chunk`` again (before any new chunk); call it between two results of `run`."""
        self.retries.append(chunk)

    def run(self, chunks: Iterable[C]) -> Iterator[tuple[C, R]]:
        source = iter(chunks)
        running: dict[H, C] = {}
        exhausted = False
        while True:
            while len(running) < self.max_in_flight:
                if self.retries:
                    chunk = self.retries.popleft()
                elif not exhausted:
                    chunk = next(source, _END)
                    if chunk is _END:
                        exhausted = True
                        continue
                else:
                    break
                running[self.start(chunk)] = chunk
            if not running:
                return
            for handle, result in self.wait_any(list(running)):
                yield running.pop(handle), result


def first_completed(futures: Sequence[Future[R]]) -> list[tuple[Future[R], R]]:
    """``wait_any`` for `concurrent.futures` pools: the futures done first, with their results."""
    done, _ = wait(futures, return_when=FIRST_COMPLETED)
    return [(f, f.result()) for f in done]
