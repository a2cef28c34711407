"""Anthropic's Message Batches: ``POST /v1/messages/batches`` with the requests inline, poll until
``processing_status`` is ``ended``, then stream ``results_url`` (JSONL: succeeded / errored /
canceled / expired per ``custom_id``). Limits: 100,000 requests and 256 MB per batch.

Batches carry no metadata, so a batch a killed run created without learning its id is found by
listing the recent batches: one created after the ledger's "creating" mark, with the spool's
request count, that the ledger does not know. Exactly one such batch is adopted; none means the
create never happened; more than one is refused rather than guessed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from thoughtmill.curation.engine.backends.anthropic import AnthropicSettings, messages_body, parse_message
from thoughtmill.curation.engine.batch.client import BatchClient, BatchState, ItemResult, batches_since
from thoughtmill.curation.engine.batch.ledger import Ledger, SpoolRecord
from thoughtmill.curation.engine.batch.spool import Limits, read_lines
from thoughtmill.curation.engine.errors import RetryableError
from thoughtmill.curation.engine.request import Request
from thoughtmill.curation.errors import CurationError

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig


class AnthropicBatchClient(BatchClient):
    limits = Limits(requests=100_000, bytes=256 * 1024 * 1024)

    def __init__(self, config: TeacherConfig) -> None:
        super().__init__(config)
        self.settings = cast(AnthropicSettings, config.settings)
        self.root = f"{self.settings.base_url}/v1/messages/batches"

    def auth(self) -> tuple[dict[str, str], str | None]:
        return self.settings.headers(self.config.label), self.settings.api_key_env

    @property
    def effective_limits(self) -> Limits:
        limits = super().effective_limits  # the spool's lines, plus '{"requests":[' ... ']}' and commas
        return Limits(requests=limits.requests, bytes=limits.bytes - 64)

    def line(self, key: str, request: Request) -> dict[str, Any]:
        return {"custom_id": key, "params": messages_body(request, self.settings)}

    async def submit(self, record: SpoolRecord, ledger: Ledger) -> str:
        http = self.http
        if record.creating_at is not None and (found := await self._created_earlier(record, ledger)):
            ledger.created(record.spool, found)
            return found
        lines = [line.rstrip(b"\n") for line in read_lines(ledger.directory, record)]
        body = b'{"requests":[' + b",".join(lines) + b"]}"
        ledger.creating(record.spool)
        created = await http.json("POST", self.root, data=body, retried=False)
        ledger.created(record.spool, created["id"])
        return str(created["id"])

    async def _created_earlier(self, record: SpoolRecord, ledger: Ledger) -> str | None:
        """The batch a killed run created from this spool without learning its id, if exactly one fits."""
        assert record.creating_at is not None
        known = ledger.known_batch_ids()
        candidates: list[str] = []
        async for batch in batches_since(self.http, self.root, "after_id", record.creating_at, _created):
            total = sum(int(v or 0) for v in (batch.get("request_counts") or {}).values())
            if batch.get("id") not in known and total == record.count:
                candidates.append(str(batch["id"]))
        if len(candidates) > 1:
            raise CurationError(
                f"spool {record.spool} of teacher '{self.config.label}': a run was killed while creating its batch, "
                f"and {len(candidates)} recent batches could be it ({', '.join(candidates)}); cancel the extra ones "
                f"and add their id to {ledger.path} by hand, or remove the spool's events to submit it again"
            )
        return candidates[0] if candidates else None

    async def state(self, batch_id: str) -> BatchState:
        data = await self.http.json("GET", f"{self.root}/{batch_id}")
        status = str(data.get("processing_status"))
        return BatchState(
            batch_id=batch_id,
            status=status,
            ended=status == "ended",
            counts=dict(data.get("request_counts") or {}),
            detail={"results_url": data.get("results_url")},
        )

    async def results(self, state: BatchState) -> AsyncIterator[ItemResult]:
        url = state.detail.get("results_url") or f"{self.root}/{state.batch_id}/results"
        async for line in self.http.lines(url):
            yield self._item(json.loads(line), state)

    def _item(self, data: dict[str, Any], state: BatchState) -> ItemResult:
        key = str(data.get("custom_id"))
        result = data.get("result") or {}
        kind = str(result.get("type"))
        if kind == "succeeded":
            origin = f"batch {state.batch_id} of teacher '{self.config.label}'"
            try:
                return ItemResult(key, parse_message(result.get("message"), origin))
            except RetryableError as exc:
                return ItemResult(key, failure="malformed", message=str(exc))
        error = (result.get("error") or {}).get("error") or result.get("error") or {}
        message = error.get("message", "") if isinstance(error, dict) else str(error)
        return ItemResult(key, failure=kind, message=str(message))


def _created(batch: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(batch.get("created_at")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
