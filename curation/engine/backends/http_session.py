"""What every teacher spoken to over HTTP shares: one aiohttp session per run, the request headers built
(and the key read) when the run starts, and the rate-limit headers of each answer handed to the limiter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import aiohttp
from thoughtmill.curation.engine.backends.base import Backend

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig


class HttpBackend(Backend):
    """A backend over HTTP. Subclasses say which headers a request carries (``request_headers``, read at
    ``start``, so a missing key fails before anything is sent) and post with ``self.session``."""

    def __init__(self, config: TeacherConfig) -> None:
        super().__init__(config)
        self.headers: dict[str, str] = {}
        self.rate_headers_callback: Callable[[Mapping[str, str]], None] | None = None
        self.http: aiohttp.ClientSession | None = None

    def request_headers(self) -> dict[str, str]:
        """The headers of every request (authentication included)."""
        raise NotImplementedError

    def on_rate_headers(self, callback: Callable[[Mapping[str, str]], None]) -> None:
        self.rate_headers_callback = callback

    def report_rate_headers(self, headers: Mapping[str, str]) -> None:
        """Hand an answer's rate-limit headers to the limiter (when the engine asked for them)."""
        if self.rate_headers_callback is not None:
            self.rate_headers_callback(headers)

    async def start(self) -> None:
        self.headers = self.request_headers()
        timeout = aiohttp.ClientTimeout(
            total=self.config.timeout_s, sock_connect=self.config.settings.connect_timeout_s
        )
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60)
        # the backends read every status themselves
        self.http = aiohttp.ClientSession(timeout=timeout, connector=connector, raise_for_status=False)

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The run's session; using the backend before ``start()`` is a programming error."""
        if self.http is None:
            raise RuntimeError(f"{type(self).__name__}.start() was not awaited")
        return self.http
