"""What the live path does with the requests a batch did not answer, per ``batch.retry_failed``.

``live``: they are sent by the provider's live backend, at the live price. ``batch`` (after its
rounds) and ``none``: they fail with the batch's reason, and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from thoughtmill.curation.engine.backends.base import Backend
from thoughtmill.curation.engine.errors import RequestFailed
from thoughtmill.curation.engine.request import Request, Response


class BatchLeftovers(Backend):
    """Wraps the live backend of a ``mode: batch`` teacher for the requests still unanswered."""

    def __init__(self, live: Backend, unanswered: Mapping[str, str]) -> None:
        super().__init__(live.config)
        self.live = live
        self.unanswered = unanswered
        self.send_live = live.config.batch.retry_failed == "live"
        self.supports_json_schema = live.supports_json_schema

    async def start(self) -> None:
        if self.send_live:
            await self.live.start()

    async def close(self) -> None:
        if self.send_live:
            await self.live.close()

    def on_rate_headers(self, callback: Callable[[Mapping[str, str]], None]) -> None:
        self.live.on_rate_headers(callback)

    async def complete(self, request: Request) -> Response:
        if self.send_live:
            return await self.live.complete(request)
        why = self.unanswered.get(request.cache_key(), "no answer from the batch API")
        raise RequestFailed(
            f"not answered by the batch API ({why}); batch.retry_failed is "
            f"'{self.config.batch.retry_failed}', so it is not sent live"
        )
