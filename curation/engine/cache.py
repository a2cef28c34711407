"""The response cache: every paid-for answer, stored once, keyed by the canonical request hash.

Backed by diskcache (SQLite in WAL mode). Each answer is committed within milliseconds of its arrival
(:class:`CacheWriter`), and the engine counts it as in flight until then, so a run killed at any
instant loses at most the requests still in flight. ``sqlite_synchronous=OFF`` is safe
against a killed *process* (the OS keeps the written pages); only a power cut could lose the last
few writes, which a re-run then asks for again. Entries never expire and are never evicted.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import MODE_RAW
from thoughtmill.curation.engine.request import Response, Usage
from thoughtmill.curation.engine.segments import POINTER, SegmentStore

_COMPRESS_ABOVE = 4096  # bytes; reasoning traces compress ~3-4x, short answers aren't worth it
# the first byte of a stored entry says how the rest is encoded
_FRAMED, _ZLIB_FRAMED = b"f", b"g"  # JSON list header line + raw UTF-8 texts (plain / zlib)
Committed = Callable[[BaseException | None], None]  # told whether an answer was stored
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # json.dumps(..., separators=) builds one per call
_LOOKUP_CHUNK = 500  # keys per bulk SELECT; well under SQLite's bound-parameter limit (32766)


class ResponseCache:
    """A persistent map from request hash to the stored response record."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        # diskcache's folder holds only what diskcache writes (its ``check()`` flags anything else)
        self._cache = diskcache.Cache(
            str(self.directory / "index"),
            size_limit=2**62,
            cull_limit=0,
            eviction_policy="none",
            sqlite_synchronous=0,
            statistics=False,
            sqlite_cache_size=2
            ** 10,  # 4 MB of SQLite page cache: the index is small, answers live in segments
        )

        self.segments = SegmentStore(self.directory)  # directory/segments/

    def get(self, key: str) -> Response | None:
        blob = self._cache.get(key)
        return None if blob is None else _decode(self._resolve(blob))

    def _resolve(self, stored: bytes) -> bytes:
        """The entry's bytes: read from its segment when the index holds a pointer."""
        return self.segments.read(stored) if stored[:1] == POINTER else stored

    def get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        """The cached responses among ``keys`` (absent keys are simply missing from the result).

        diskcache has no bulk read, and one ``get`` per row costs a SQLite round trip each — a
        tenth of a row's CPU budget at full speed. This reads diskcache's own ``Cache`` table with
        one ``SELECT ... IN`` per chunk, exactly as ``Cache.get`` would row by row: string keys are
        stored raw, entries never expire, statistics and eviction are off (so a read updates
        nothing), and the value is decoded by diskcache's ``Disk.fetch`` (large values live in
        files). ``tests/engine/test_cache.py`` pins that both paths agree.
        """
        found: dict[str, Response] = {}
        for key, mode, filename, value in self._select("key, mode, filename, value", keys):
            blob = self._cache._disk.fetch(mode, filename, value, False)
            found[key] = _decode(self._resolve(blob))
        return found

    def _select(self, columns: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        """Rows of diskcache's ``Cache`` table for ``keys`` (live string keys only), in chunks."""
        unique = list(dict.fromkeys(keys))
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT {columns} FROM Cache WHERE raw = 1 AND key IN ({marks})"
                " AND (expire_time IS NULL OR expire_time > ?)"
            )
            rows += self._cache._sql(query, (*chunk, time.time())).fetchall()
        return rows

    def __contains__(self, key: str) -> bool:
        return key in self._cache

    def put(self, key: str, response: Response) -> None:
        self.put_many([(key, response)])

    def put_many(self, items: Sequence[tuple[str, Response]]) -> None:
        """Store many answers: their bytes appended to a segment, then one SQLite transaction.

        The bytes go to this process's segment file first (flushed to the OS), then small pointers
        are written with one ``executemany`` INSERT into diskcache's ``Cache`` table, with the
        columns ``Cache.set`` would write (diskcache's triggers keep its count and size): a kill in
        between leaves only unreferenced bytes. Should a key already be stored (a re-asked twin,
        say), the INSERT skips it and the batch's pointers are written with ``Cache.set``, which
        replaces the old value properly.
        """
        if not items:
            return
        pointers = self.segments.append([_encode(response) for _, response in items])
        now = time.time()
        with self._cache.transact():
            inserted = self._cache._con.executemany(
                "INSERT INTO Cache(key, raw, store_time, expire_time, access_time, access_count,"
                " tag, size, mode, filename, value) VALUES (?, 1, ?, NULL, ?, 0, NULL, 0, ?, NULL, ?)"
                " ON CONFLICT(key, raw) DO NOTHING",
                [(key, now, now, MODE_RAW, pointer) for (key, _), pointer in zip(items, pointers)],
            ).rowcount
            if inserted < len(items):
                for (key, _), pointer in zip(items, pointers):
                    self._cache.set(key, pointer)

    def delete(self, key: str) -> None:
        self._cache.delete(key)

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        self._cache.close()
        self.segments.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CacheWriter:
    """Commits answers in batches on the event loop, without making the engine wait for each commit.

    One commit per answer costs ~30 µs of a ~150 µs row budget at full speed, and parking a worker
    until its answer's batch is committed costs a task switch per row. Instead ``add`` returns at
    once: answers are gathered for at most ``delay`` seconds (or ``max_batch`` answers) and committed
    together, then each one's ``on_committed`` callback learns the outcome. The engine counts an
    answer against its in-flight window until that callback, so "in flight" still bounds what a kill
    can cost; until then the answer is visible through :meth:`pending`. The commit runs on the loop
    rather than in a thread: the engine is CPU-bound on one core, and a writer thread only adds GIL
    hand-offs to every socket read.
    """

    def __init__(self, cache: ResponseCache, max_batch: int = 256, delay: float = 0.002) -> None:
        self.cache = cache
        self.max_batch = max_batch
        self.delay = delay
        self._batch: list[tuple[str, Response, Committed]] = []
        self._uncommitted: dict[str, Response] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, key: str, response: Response, on_committed: Committed) -> None:
        """Queue an answer; ``on_committed(None)`` once it is stored, ``on_committed(error)`` if not."""
        self._batch.append((key, response, on_committed))
        self._uncommitted[key] = response
        if len(self._batch) >= self.max_batch:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.delay, self.flush)

    def pending(self, key: str) -> Response | None:
        """An answer added but not committed yet (a twin row must not send it again)."""
        return self._uncommitted.get(key)

    def flush(self) -> None:
        """Commit everything queued; every callback learns of a failure (a full disk, say)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, []
        if not batch:
            return
        error: BaseException | None = None
        try:
            self.cache.put_many([(key, response) for key, response, _ in batch])
        except Exception as exc:
            error = exc
        for key, response, on_committed in batch:
            if self._uncommitted.get(key) is response:  # not a later answer for the same key
                del self._uncommitted[key]
            on_committed(error)

    def close(self) -> None:
        """Commit what is still queued."""
        self.flush()


def _encode(response: Response) -> bytes:
    """The stored form: a one-line JSON list header, then the answer's texts as plain UTF-8.

    Framing the texts rather than JSON-escaping them costs ~1 µs instead of ~7 µs for a 2 KB
    answer (and the same saving on every read); a list header costs half what an object does.
    Large entries are zlib-compressed as a whole.
    """
    content = response.content.encode()
    reasoning = response.reasoning_content
    usage = response.usage
    header = [
        response.finish_reason,
        response.model,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.reasoning_tokens,
        usage.cached_tokens,
        len(content),
        reasoning is not None,
    ]
    framed = _COMPACT_JSON.encode(header).encode() + b"\n" + content + (reasoning or "").encode()
    if len(framed) > _COMPRESS_ABOVE:
        return _ZLIB_FRAMED + zlib.compress(framed, 1)
    return _FRAMED + framed


def _decode(blob: bytes) -> Response:
    """The response an entry written by :func:`_encode` holds."""
    tag, body = blob[:1], blob[1:]
    if tag == _ZLIB_FRAMED:
        body = zlib.decompress(body)
    elif tag != _FRAMED:
        raise ValueError(f"unknown cache entry encoding {tag!r}")
    head, _, texts = body.partition(b"\n")
    finish_reason, model, prompt, completion, reasoning, cached, split, has_reasoning = json.loads(head)
    return Response(
        content=texts[:split].decode(),
        reasoning_content=texts[split:].decode() if has_reasoning else None,
        finish_reason=finish_reason,
        usage=Usage(prompt, completion, reasoning, cached),
        model=model,
        from_cache=True,
    )
