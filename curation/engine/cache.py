"""The response cache: every paid-for answer, stored once, keyed by the canonical request hash.

Backed by diskcache (SQLite in WAL mode). Each answer is written the moment it arrives, so a run
killed at any instant loses at most the requests still in flight. ``sqlite_synchronous=OFF`` is safe
against a killed *process* (the OS keeps the written pages); only a power cut could lose the last
few writes, which a re-run then asks for again. Entries never expire and are never evicted.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import zlib
from pathlib import Path
from typing import Any

import diskcache

from curation.engine.request import Response

_COMPRESS_ABOVE = 4096  # bytes; reasoning traces compress ~3-4x, short answers aren't worth it


class ResponseCache:
    """A persistent map from request hash to the stored response record."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._cache = diskcache.Cache(
            str(self.directory),
            size_limit=2**62,
            cull_limit=0,
            eviction_policy="none",
            sqlite_synchronous=0,
            statistics=False,
        )

    def get(self, key: str) -> Response | None:
        blob = self._cache.get(key)
        if blob is None:
            return None
        return Response.from_record(_decode(blob), from_cache=True)

    def __contains__(self, key: str) -> bool:
        return key in self._cache

    def put(self, key: str, response: Response) -> None:
        self._cache.set(key, _encode(response.to_record()))

    def delete(self, key: str) -> None:
        self._cache.delete(key)

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        self._cache.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CacheWriter:
    """Writes answers from a background thread, many per SQLite transaction.

    One commit per answer costs the event loop ~30 µs of a ~170 µs request budget at high
    throughput; batching in a thread takes that off the loop. ``put`` returns only after the
    answer is committed, and the engine holds a request's in-flight slot until then, so "in
    flight" still bounds what a kill can cost.
    """

    def __init__(self, cache: ResponseCache, max_batch: int = 512) -> None:
        self.cache = cache
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[str, Response, asyncio.Future[None]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="thoughtmill-cache-writer", daemon=True)
        self._thread.start()

    async def put(self, key: str, response: Response) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put((key, response, future))
        await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            error: BaseException | None = None
            try:
                with self.cache._cache.transact():
                    for key, response, _ in batch:
                        self.cache._cache.set(key, _encode(response.to_record()))
            except BaseException as exc:  # a full disk, say: every waiter learns of it
                error = exc
            _resolve(batch, error)
            if stop:
                return


def _resolve(batch: list[tuple[str, Response, asyncio.Future[None]]], error: BaseException | None) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for _, _, future in batch:
        by_loop.setdefault(future.get_loop(), []).append(future)

    def settle(futures: list[asyncio.Future[None]]) -> None:
        for future in futures:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    for loop, futures in by_loop.items():
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle, futures)


def _encode(record: dict[str, Any]) -> bytes:
    raw = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    if len(raw) > _COMPRESS_ABOVE:
        return b"z" + zlib.compress(raw, 1)
    return b"j" + raw


def _decode(blob: bytes) -> dict[str, Any]:
    tag, body = blob[:1], blob[1:]
    if tag == b"z":
        body = zlib.decompress(body)
    return json.loads(body)
