"""JSON over HTTP for the batch clients: explicit timeouts, the teacher's retry policy, classified errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
from thoughtmill.curation.engine.backends.http_errors import http_error
from thoughtmill.curation.engine.errors import RetryableError
from thoughtmill.curation.engine.retry import retry_policy

_CHUNK = 1 << 20  # bytes read at a time from a results download

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig


class BatchHTTP:
    """One session for one batch client; each call is retried by the teacher's retry policy."""

    def __init__(self, config: TeacherConfig, headers: dict[str, str], key_env: str | None) -> None:
        self.config = config
        self.headers = headers  # held in memory only; never logged or written
        self.key_env = key_env
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # no total limit: an upload or a results file can be hundreds of MB; a stalled read still fails
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=self.config.timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def json(self, method: str, url: str, *, retried: bool = True, **kwargs: Any) -> Any:
        """The decoded JSON answer of one call, retried while transient. ``retried=False`` for creating
        a batch, where a retry after a lost answer would pay twice (the caller first looks for the batch
        the lost answer created)."""
        if not retried:
            return _decoded(await self._once(method, url, **kwargs), url)
        async for attempt in retry_policy(self.config.retry):
            with attempt:
                return _decoded(await self._once(method, url, **kwargs), url)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def lines(self, url: str) -> AsyncIterator[bytes]:
        """The lines of a (possibly large) JSONL download, streamed rather than held whole."""
        if self._session is None:
            raise RuntimeError("BatchHTTP.start() was not awaited")
        async with self._session.get(url, headers=self.headers) as resp:
            if resp.status != 200:
                raise http_error(resp.status, resp.headers, await resp.read(), url, self.key_env)
            # split by hand: aiohttp < 3.10 refuses a line longer than its read buffer (a long trace)
            pending = bytearray()
            async for chunk in resp.content.iter_chunked(_CHUNK):
                pending += chunk
                *lines, rest = pending.split(b"\n")
                pending = bytearray(rest)
                for line in lines:
                    if line.strip():
                        yield bytes(line)
            if pending.strip():
                yield bytes(pending)

    async def _once(self, method: str, url: str, **kwargs: Any) -> bytes:
        if self._session is None:
            raise RuntimeError("BatchHTTP.start() was not awaited")
        headers = {**self.headers, **kwargs.pop("headers", {})}
        try:
            async with self._session.request(method, url, headers=headers, **kwargs) as resp:
                raw = await resp.read()
                if resp.status // 100 != 2:
                    raise http_error(resp.status, resp.headers, raw, url, self.key_env)
                return raw
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise RetryableError(f"connection to {url} failed: {type(exc).__name__}: {exc}") from exc
        except asyncio.TimeoutError as exc:
            raise RetryableError(f"no answer from {url} within {self.config.timeout_s:g}s") from exc


def _decoded(raw: bytes, url: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise RetryableError(f"malformed JSON from {url}: {raw[:200]!r}") from exc
