"""The response cache: every paid-for answer, stored once, keyed by the canonical request hash.

Backed by diskcache (SQLite in WAL mode). Each answer is written the moment it arrives, so a run
killed at any instant loses at most the requests still in flight. ``sqlite_synchronous=OFF`` is safe
against a killed *process* (the OS keeps the written pages); only a power cut could lose the last
few writes, which a re-run then asks for again. Entries never expire and are never evicted.
"""

from __future__ import annotations

import json
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
