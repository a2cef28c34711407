"""The stream of work: rows read lazily, each with its request, cache key and cached answer.

Rows are read, built and looked up a chunk at a time (one bulk cache lookup per chunk, not one per
row), so the rows in memory are the in-flight window plus at most one chunk. A row whose identical
request (its *twin*) was in flight when its chunk was looked up is looked up again when it is handed
out: the twin may have been answered since.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Container, Iterable, Iterator
from typing import Any

from thoughtmill.curation.engine.cache import ResponseCache
from thoughtmill.curation.engine.errors import RunStopped
from thoughtmill.curation.engine.request import Request, Response
from thoughtmill.curation.errors import CurationError

BuildFn = Callable[[int, dict[str, Any]], Request]
Row = tuple[int, dict[str, Any], Request, str]  # input position, row, request, cache key
Item = tuple[int, dict[str, Any], Request, str, Response | None]  # ... and its cached answer

_LOOKUP_CHUNK = 256  # rows read, built and looked up in the cache at once


class RowFeed:
    """Iterate to get :data:`Item` s; shared by every worker of a run (one row goes to one worker)."""

    def __init__(
        self,
        rows: Iterable[dict[str, Any]],
        build: BuildFn,
        cache: ResponseCache,
        uncommitted: Callable[[str], Response | None],
        in_flight: Container[str],
        stop: Callable[[CurationError], None],
    ) -> None:
        self._rows = rows
        self._build = build
        self._cache = cache
        self._uncommitted = uncommitted  # answered, not committed to the cache yet
        self._in_flight = in_flight
        self._stop = stop

    def __iter__(self) -> Iterator[Item]:
        """Rows before one that cannot be built still run; then the run stops."""
        numbered = enumerate(self._rows)
        while True:
            chunk, error = self._read_chunk(numbered)
            yield from self._looked_up(chunk)
            if error is not None:  # stop only now: every row before it has been handed out
                self._stop(error)
                raise RunStopped from error
            if len(chunk) < _LOOKUP_CHUNK:
                return

    def _read_chunk(
        self, numbered: Iterator[tuple[int, dict[str, Any]]]
    ) -> tuple[list[Row], CurationError | None]:
        """The next rows with their requests and keys, up to the first that cannot be built."""
        chunk: list[Row] = []
        for index, row in itertools.islice(numbered, _LOOKUP_CHUNK):
            try:
                request = self._build(index, row)
            except CurationError as exc:
                return chunk, exc
            chunk.append((index, row, request, request.cache_key()))
        return chunk, None

    def _looked_up(self, chunk: list[Row]) -> Iterator[Item]:
        """Each row of ``chunk`` with its cached answer, looked up in bulk.

        An answer not committed yet at lookup time counts as cached (it may be committed before
        its row's turn). Handed out one at a time, as workers ask: a row whose twin was in flight at
        lookup time (or came earlier in the chunk) is looked up again then, as the twin may have
        been answered since; a twin still in flight (or waiting for a window place) is waited for
        by the engine.
        """
        found = self._cache.get_many([key for *_, key in chunk]) if chunk else {}
        for *_, key in chunk:
            if key not in found and (uncommitted := self._uncommitted(key)) is not None:
                found[key] = uncommitted
        twins = {key for *_, key in chunk if key in self._in_flight}
        seen: set[str] = set()
        for index, row, request, key in chunk:
            cached = found.get(key)
            if cached is None and (key in twins or key in seen) and key not in self._in_flight:
                cached = self._uncommitted(key) or self._cache.get(key)
            seen.add(key)
            yield index, row, request, key, cached
