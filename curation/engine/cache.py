"""The response cache: every paid-for answer, stored once, keyed by the canonical request hash.

Answers live in append-only segment files as self-checking records (``segments``); a small SQLite
index says where each key's record is (``cache_index``). Each answer is committed within
milliseconds of its arrival (:class:`CacheWriter`), and the engine counts it as in flight until
then, so a run killed at any instant loses at most the requests still in flight.

Nothing altered is ever served: every read checks the record's key and checksum, and an entry that
fails is reported (logged, counted in the run's summary) and treated as missing, so it is asked
again. A lost, garbage or stale index is rebuilt from the segments when the cache opens
(``cache_repair``), so it costs no money; ``thoughtmill cache check|rebuild`` do the same by hand.
Many processes may share one cache (each appends to its own segment); they hold a shared lock on
it, and only a rebuild of the index needs it alone. Entries never expire and are never evicted.

A cache may read through ``earlier`` caches (the same run's answers stored under another shard
layout: unsharded, or another number of shards): a key missing here is looked up there, and an
answer found is copied here, so changing the layout never pays for an answer twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

from thoughtmill.curation.engine.cache_index import CacheIndex
from thoughtmill.curation.engine.cache_repair import INDEX_FILE, CacheReport, open_index, scan_segments
from thoughtmill.curation.engine.dirlock import DirectoryLock
from thoughtmill.curation.engine.request import Response, Usage
from thoughtmill.curation.engine.segments import DamagedRecord, Pointer, SegmentStore, encode_record

log = logging.getLogger("thoughtmill.engine")

_COMPRESS_ABOVE = 4096  # bytes; reasoning traces compress ~3-4x, short answers aren't worth it
# the first byte of a stored entry says how the rest is encoded
_FRAMED, _ZLIB_FRAMED = b"f", b"g"  # JSON list header line + raw UTF-8 texts (plain / zlib)
Committed = Callable[[BaseException | None], None]  # told whether an answer was stored
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # json.dumps(..., separators=) builds one per call
_UNREADABLE = (DamagedRecord, ValueError, zlib.error)  # a record whose body cannot be decoded is damaged too


class ResponseCache:
    """A persistent map from request hash to the stored response."""

    def __init__(self, directory: str | Path, earlier: Sequence[str | Path] = ()) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = DirectoryLock(self.directory, shared=True, purpose="response cache").acquire()
        try:
            self.segments = SegmentStore(self.directory)  # directory/segments/
            self.index: CacheIndex = open_index(self.directory / INDEX_FILE, self.segments, self._lock)
        except BaseException:
            self._lock.release()
            raise
        self._damaged: set[str] = set()
        self._earlier: list[ResponseCache] = []
        self.adopted = 0  # answers copied here from an earlier cache
        try:  # opened now, so an unreadable one stops the run before anything is paid for
            for path in earlier:
                if Path(path).is_dir() and Path(path).resolve() != self.directory.resolve():
                    self._earlier.append(ResponseCache(path))
        except BaseException:
            self.close()
            raise

    @property
    def corrupt_entries(self) -> int:
        """Entries found damaged (and so treated as missing) since this cache was opened."""
        return len(self._damaged)

    def get(self, key: str) -> Response | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        """The intact cached responses among ``keys`` (absent or damaged keys are missing from the result)."""
        found: dict[str, Response] = {}
        for key, pointer in self.index.lookup(keys).items():
            try:
                found[key] = _decode(self.segments.read(pointer, key))
            except _UNREADABLE as exc:
                self._report_damaged(key, pointer, exc)
        if self._earlier and len(found) < len(keys):
            found.update(self._adopt([key for key in keys if key not in found]))
        return found

    def _adopt(self, missing: list[str]) -> dict[str, Response]:
        """The ``missing`` keys' answers held by an earlier cache, copied into this one."""
        adopted: dict[str, Response] = {}
        for other in self._earlier:
            adopted.update(other.get_many([key for key in missing if key not in adopted]))
            if len(adopted) == len(missing):
                break
        if adopted:
            self.put_many(list(adopted.items()))
            self.adopted += len(adopted)
        return adopted

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def put(self, key: str, response: Response) -> None:
        self.put_many([(key, response)])

    def put_many(self, items: Sequence[tuple[str, Response]]) -> None:
        """Store many answers: their records appended to this process's segment, then one index transaction.

        The bytes reach the OS before the index points at them, so a kill in between leaves only
        records the next open indexes from the segment. A key stored again points at its new record.
        """
        if not items:
            return
        pointers = self.segments.append([encode_record(key, _encode(response)) for key, response in items])
        progress = [self.segments.writing] if self.segments.writing else []
        self.index.add([(key, pointer) for (key, _), pointer in zip(items, pointers)], progress)

    def delete(self, key: str) -> None:
        self.index.delete(key)

    def __len__(self) -> int:
        return len(self.index)

    def check(self) -> CacheReport:
        """Read every indexed entry back (key, checksum, decoding) and scan every segment."""
        bad: list[tuple[str, str]] = []
        entries = self.index.entries()
        for key, pointer in entries:
            try:
                _decode(self.segments.read(pointer, key))
            except _UNREADABLE as exc:
                bad.append((key, f"{exc} (segment {pointer.segment}, byte {pointer.offset})"))
        indexed = {(p.segment, p.offset) for _, p in entries}
        scanned = scan_segments(self.segments)
        unindexed = sum(1 for _, p in scanned.records if (p.segment, p.offset) not in indexed)
        return CacheReport(
            directory=self.directory,
            entries=len(entries),
            segments=len(self.segments.names()),
            bad=bad,
            damaged=scanned.damaged,
            unindexed=unindexed,
        )

    def close(self) -> None:
        for other in self._earlier:
            other.close()
        self._earlier = []
        self.index.close()
        self.segments.close()
        self._lock.release()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _report_damaged(self, key: str, pointer: Pointer, exc: BaseException) -> None:
        if key not in self._damaged:
            self._damaged.add(key)
            log.warning(
                "cache entry %s (segment %s, byte %d) is damaged: %s; treated as missing, so it is asked again",
                key,
                pointer.segment,
                pointer.offset,
                exc,
            )


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
    if usage.cache_write_tokens:  # an optional last field: entries without it read as 0
        header.append(usage.cache_write_tokens)
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
    finish_reason, model, prompt, completion, reasoning, cached, split, has_reasoning, *rest = json.loads(
        head
    )
    return Response(
        content=texts[:split].decode(),
        reasoning_content=texts[split:].decode() if has_reasoning else None,
        finish_reason=finish_reason,
        usage=Usage(prompt, completion, reasoning, cached, cache_write_tokens=rest[0] if rest else 0),
        model=model,
        from_cache=True,
    )
