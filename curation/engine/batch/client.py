"""What a provider's batch API must offer (the registry of them is ``batch.registry``).

A client turns a request into one line of the provider's batch input, submits a spool file, tells
whether a batch has ended and streams its per-request results.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from thoughtmill.curation.engine.batch.http import BatchHTTP
from thoughtmill.curation.engine.batch.ledger import Ledger, SpoolRecord
from thoughtmill.curation.engine.batch.spool import Limits
from thoughtmill.curation.engine.request import Request, Response

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig


@dataclass
class BatchState:
    """A batch as the provider last described it."""

    batch_id: str
    status: str  # the provider's own word (in_progress, completed, expired, ended, ...)
    ended: bool
    counts: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)  # what the results step needs (file ids, url)
    note: str = ""  # why the batch as a whole failed, in the provider's words (OpenAI's errors.data)


@dataclass
class ItemResult:
    """One request's outcome in a batch: an answer, or why there is none."""

    key: str
    response: Response | None = None
    failure: str | None = None  # errored / expired / canceled / http_<status> / ...
    message: str = ""


class BatchClient(ABC):
    """One provider's batch API, for one teacher."""

    #: the provider's own limits per batch
    limits: Limits

    def __init__(self, config: TeacherConfig) -> None:
        self.config = config
        self._http: BatchHTTP | None = None

    @property
    def effective_limits(self) -> Limits:
        """The provider's limits, lowered by the teacher's ``batch.max_requests`` / ``max_bytes``."""
        options = self.config.batch
        return Limits(
            requests=min(self.limits.requests, options.max_requests or self.limits.requests),
            bytes=min(self.limits.bytes, options.max_bytes or self.limits.bytes),
        )

    @abstractmethod
    def auth(self) -> tuple[dict[str, str], str | None]:
        """The headers every call carries (the key read from the environment now) and the key's variable."""

    async def start(self) -> None:
        """Open the connection (inside the event loop); fails here if the key is missing."""
        headers, key_env = self.auth()
        self._http = BatchHTTP(self.config, headers, key_env)
        await self._http.start()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    @property
    def http(self) -> BatchHTTP:
        if self._http is None:
            raise RuntimeError(f"{type(self).__name__}.start() was not awaited")
        return self._http

    @abstractmethod
    def line(self, key: str, request: Request) -> dict[str, Any]:
        """One request as a line of the batch input; ``custom_id`` is ``key``."""

    @abstractmethod
    async def submit(self, record: SpoolRecord, ledger: Ledger) -> str:
        """Create the batch of one spool file; record each step in the ledger; return the batch id.

        Before creating anything, look for a batch a killed run created from this spool without
        learning its id (``record.creating_at`` is set): adopt it rather than pay twice.
        """

    @abstractmethod
    async def state(self, batch_id: str) -> BatchState:
        """The batch's status now."""

    @abstractmethod
    def results(self, state: BatchState) -> AsyncIterator[ItemResult]:
        """Every per-request result of an ended batch (requests without one are the caller's to find)."""


#: a batch created this long before a "creating" mark may still be the one that mark announced
CLOCK_SKEW_S = 300.0
_LIST_PAGE = 100


async def batches_since(
    http: BatchHTTP, url: str, cursor: str, since: float, created: Callable[[dict[str, Any]], float | None]
) -> AsyncIterator[dict[str, Any]]:
    """The batches a provider lists (newest first, ``cursor`` = the paging parameter) created at
    ``since - CLOCK_SKEW_S`` or later; ``created`` reads a batch's creation time (seconds)."""
    after: str | None = None
    while True:
        query = f"?limit={_LIST_PAGE}" + (f"&{cursor}={after}" if after else "")
        page = await http.json("GET", f"{url}{query}")
        data = page.get("data") or []
        for batch in data:
            when = created(batch)
            if when is not None and when < since - CLOCK_SKEW_S:
                return  # newest first: everything after this is older still
            yield batch
        if not page.get("has_more") or not data:
            return
        after = page.get("last_id") or data[-1]["id"]
