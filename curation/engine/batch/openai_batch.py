"""OpenAI's Batch API: upload a JSONL file (purpose ``batch``), ``POST /batches``, poll, read the
output and error files.

A batch goes validating -> in_progress -> finalizing -> completed, or ends failed (the input did
not validate), expired (past the completion window: what finished is in the output file, the rest in
the error file as ``batch_expired``) or cancelled. Limits: 50,000 requests and 200 MB per input file.
The batch's metadata names its spool, and an input file is uploaded once (its id is in the ledger),
so a run killed between create and its answer finds the batch by its input file instead of paying
twice. Its upload name holds the moment the ledger marked the upload, so a run killed between the
upload and its answer finds the file by that name instead of leaving an orphan on the account.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

import aiohttp
from thoughtmill.curation.engine.backends.openai_http import OpenAIBackend, OpenAISettings, parse_completion
from thoughtmill.curation.engine.batch.client import BatchClient, BatchState, ItemResult, batches_since
from thoughtmill.curation.engine.batch.ledger import Ledger, SpoolRecord
from thoughtmill.curation.engine.batch.spool import Limits
from thoughtmill.curation.engine.errors import RetryableError
from thoughtmill.curation.engine.request import Request

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig

ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


class OpenAIBatchClient(BatchClient):
    limits = Limits(requests=50_000, bytes=200 * 1024 * 1024)

    def __init__(self, config: TeacherConfig) -> None:
        super().__init__(config)
        self.settings = cast(OpenAISettings, config.settings)
        self.base = self.settings.base_urls[0]
        self.endpoint = urlparse(self.base).path.rstrip("/") + "/chat/completions"  # "/v1/chat/completions"
        self._bodies = OpenAIBackend(config)  # builds the same body the live path sends

    def auth(self) -> tuple[dict[str, str], str | None]:
        key = self.settings.api_key(self.config.label)
        headers = {**self.settings.extra_headers, **({"Authorization": f"Bearer {key}"} if key else {})}
        return headers, self.settings.api_key_env

    def line(self, key: str, request: Request) -> dict[str, Any]:
        return {"custom_id": key, "method": "POST", "url": self.endpoint, "body": self._bodies.body(request)}

    async def submit(self, record: SpoolRecord, ledger: Ledger) -> str:
        http = self.http
        lost_upload = record.file_id is None and record.uploading_at is not None
        if lost_upload and (found := await self._uploaded_as(record)):
            ledger.uploaded(record.spool, found)
        if record.file_id is None:
            ledger.uploading(record.spool)
            form = aiohttp.FormData()
            form.add_field("purpose", "batch")
            form.add_field(
                "file",
                (ledger.directory / record.file).read_bytes(),
                filename=_upload_name(record),
                content_type="application/jsonl",
            )
            uploaded = await http.json("POST", f"{self.base}/files", data=form)
            ledger.uploaded(record.spool, uploaded["id"])
        assert record.file_id is not None
        if record.creating_at is not None and (found := await self._created_from(record, ledger)):
            ledger.created(record.spool, found)
            return found
        ledger.creating(record.spool)
        body = {
            "input_file_id": record.file_id,
            "endpoint": self.endpoint,
            "completion_window": self.config.batch.completion_window,
            "metadata": {"thoughtmill_spool": record.spool},
        }
        created = await http.json("POST", f"{self.base}/batches", json=body, retried=False)
        ledger.created(record.spool, created["id"])
        return created["id"]

    async def _uploaded_as(self, record: SpoolRecord) -> str | None:
        """The file an upload whose answer was lost created (its name is unique to that upload)."""
        name, after = _upload_name(record), None
        while True:
            query = "?purpose=batch&limit=1000" + (f"&after={after}" if after else "")
            page = await self.http.json("GET", f"{self.base}/files{query}")
            files = page.get("data") or []
            for file in files:
                if file.get("filename") == name and file.get("bytes") == record.bytes:
                    return str(file["id"])
            if not page.get("has_more") or not files:
                return None
            after = files[-1].get("id")

    async def _created_from(self, record: SpoolRecord, ledger: Ledger) -> str | None:
        """A batch made from this spool's input file that the ledger does not know (a lost create answer)."""
        assert record.creating_at is not None
        known = ledger.known_batch_ids()
        async for batch in batches_since(
            self.http, f"{self.base}/batches", "after", record.creating_at, _created
        ):
            if batch.get("input_file_id") == record.file_id and batch.get("id") not in known:
                return str(batch["id"])
        return None

    async def state(self, batch_id: str) -> BatchState:
        data = await self.http.json("GET", f"{self.base}/batches/{batch_id}")
        status = str(data.get("status"))
        return BatchState(
            batch_id=batch_id,
            status=status,
            ended=status in ENDED,
            counts=dict(data.get("request_counts") or {}),
            detail={"output_file_id": data.get("output_file_id"), "error_file_id": data.get("error_file_id")},
            note="; ".join(
                f"line {e.get('line')}: {e.get('code')}: {e.get('message')}"
                for e in ((data.get("errors") or {}).get("data") or [])[:3]
            ),
        )

    async def results(self, state: BatchState) -> AsyncIterator[ItemResult]:
        http = self.http
        for file_id in (state.detail.get("output_file_id"), state.detail.get("error_file_id")):
            if not file_id:
                continue
            async for line in http.lines(f"{self.base}/files/{file_id}/content"):
                yield self._item(json.loads(line), state)

    def _item(self, data: dict[str, Any], state: BatchState) -> ItemResult:
        key = str(data.get("custom_id"))
        response = data.get("response") or {}
        error = data.get("error") or {}
        status = response.get("status_code")
        if status == 200 and not error:
            origin = f"batch {state.batch_id} of teacher '{self.config.label}'"
            try:
                return ItemResult(key, parse_completion(json.dumps(response.get("body")).encode(), origin))
            except RetryableError as exc:
                return ItemResult(key, failure="malformed", message=str(exc))
        if error:
            return ItemResult(
                key, failure=str(error.get("code") or "errored"), message=str(error.get("message"))
            )
        body_error = (response.get("body") or {}).get("error") or {}
        return ItemResult(key, failure=f"http_{status}", message=str(body_error.get("message") or body_error))


def _upload_name(record: SpoolRecord) -> str:
    """``spool-00001-1764900000123.jsonl``: the spool file's name and the moment its upload was marked."""
    assert record.uploading_at is not None
    spool = PurePath(record.file)
    return f"{spool.stem}-{round(record.uploading_at * 1000)}{spool.suffix}"


def _created(batch: dict[str, Any]) -> float | None:
    value = batch.get("created_at")
    return float(value) if isinstance(value, (int, float)) else None
