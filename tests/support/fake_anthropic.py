"""A fake Anthropic API on 127.0.0.1 speaking the real wire format (not shipped in the wheel).

- ``POST /v1/messages``: requires ``x-api-key`` (401 ``authentication_error`` otherwise) and
  ``anthropic-version`` (400 without); answers a ``message`` with a ``thinking`` block when the body
  asks for ``thinking: {type: enabled}``, then a ``text`` block; ``usage`` with ``input_tokens``,
  ``output_tokens`` and the configured ``cache_creation_input_tokens`` / ``cache_read_input_tokens``;
  ``anthropic-ratelimit-*`` headers (reset as RFC 3339). ``[[cut]]`` in the prompt answers
  ``stop_reason: max_tokens``. ``faults``: prompt substring -> the statuses its successive attempts
  get (429 ``rate_limit_error`` with ``retry-after``, 529 ``overloaded_error``, any other status).
- Message Batches: ``POST /v1/messages/batches`` (``requests``: ``custom_id`` + ``params``, at most
  100,000), ``GET /v1/messages/batches`` (newest first, ``after_id`` paging),
  ``GET /v1/messages/batches/{id}`` (``in_progress`` until it was polled ``polls_to_end`` times,
  then ``ended`` with a ``results_url``), ``GET .../results`` (JSONL). A request whose prompt holds
  ``[[batch:errored]]`` / ``[[batch:expired]]`` / ``[[batch:canceled]]`` gets that result the first
  time its ``custom_id`` is in a batch, and succeeds in a later one. ``hold = True`` keeps every
  batch in progress until it is set back to False.

``stats`` counts what arrived: ``messages`` (live calls), ``status`` per code, ``batches_created``,
``batch_requests`` (requests submitted in batches, every batch), ``polls``, ``api_keys`` seen.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from tests.support.threaded_app import ThreadedApp

MAX_BATCH_REQUESTS = 100_000


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def answer_for(params: dict[str, Any], cache_read: int = 0, cache_write: int = 0) -> dict[str, Any]:
    """The deterministic ``message`` the fake answers for a Messages API body."""
    prompt = _text(params["messages"][-1]["content"])
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    blocks: list[dict[str, Any]] = []
    thinking = (params.get("thinking") or {}).get("type") == "enabled"
    if thinking:
        blocks.append(
            {"type": "thinking", "thinking": f"Let me think about {prompt[:40]!r}.", "signature": "sig"}
        )
    blocks.append({"type": "text", "text": f"answer {digest}"})
    everything = prompt + _text(params.get("system") or "")
    return {
        "id": f"msg_{digest}",
        "type": "message",
        "role": "assistant",
        "model": params["model"],
        "content": blocks,
        "stop_reason": "max_tokens" if "[[cut]]" in prompt else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": max(1, len(everything) // 4),
            "output_tokens": 7 + (9 if thinking else 0),
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
        },
    }


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return web.json_response(body, status=status, headers=headers)


class FakeAnthropic(ThreadedApp):
    def __init__(
        self,
        api_key: str,
        *,
        polls_to_end: int = 2,
        faults: dict[str, list[int]] | None = None,
        retry_after: float = 0.2,
        requests_remaining: int = 100,
        cache_read: int = 0,
        cache_write: int = 0,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.hold = False  #: while True, polls do not move a batch towards its end
        self.polls_to_end = polls_to_end
        self.faults = faults or {}
        self.retry_after = retry_after
        self.requests_remaining = requests_remaining
        self.cache_read = cache_read
        self.cache_write = cache_write
        self.stats: dict[str, Any] = {
            "messages": 0,
            "status": Counter(),
            "batches_created": 0,
            "batch_requests": 0,
            "polls": 0,
            "api_keys": Counter(),
        }
        self._attempts: Counter[str] = Counter()  # per prompt (live) / per custom_id (batches)
        self._batches: dict[str, dict[str, Any]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/batches", self._create)
        app.router.add_get("/v1/messages/batches", self._list)
        app.router.add_get("/v1/messages/batches/{id}", self._retrieve)
        app.router.add_get("/v1/messages/batches/{id}/results", self._results)

    # ------------------------------------------------------------------ common checks
    def _refused(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("x-api-key")
        self.stats["api_keys"][key] += 1
        if key != self.api_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version header is required")
        return None

    def _rate_headers(self) -> dict[str, str]:
        reset = _iso(datetime.now(timezone.utc) + timedelta(seconds=self.retry_after))
        return {
            "anthropic-ratelimit-requests-limit": "1000",
            "anthropic-ratelimit-requests-remaining": str(self.requests_remaining),
            "anthropic-ratelimit-requests-reset": reset,
            "anthropic-ratelimit-tokens-limit": "100000",
            "anthropic-ratelimit-tokens-remaining": "90000",
            "anthropic-ratelimit-tokens-reset": reset,
        }

    # ------------------------------------------------------------------ Messages
    async def _messages(self, request: web.Request) -> web.Response:
        self.stats["messages"] += 1
        refused = self._refused(request)
        if refused is not None:
            self.stats["status"][refused.status] += 1
            return refused
        body = await request.json()
        if "max_tokens" not in body:
            return _error(400, "invalid_request_error", "max_tokens: field required")
        prompt = _text(body["messages"][-1]["content"])
        for marker, statuses in self.faults.items():
            if marker in prompt:
                attempt = self._attempts[prompt]
                self._attempts[prompt] += 1
                if attempt < len(statuses):
                    status = statuses[attempt]
                    self.stats["status"][status] += 1
                    headers = {**self._rate_headers(), "retry-after": f"{self.retry_after:g}"}
                    if status == 429:
                        headers["anthropic-ratelimit-requests-remaining"] = "0"
                        return _error(
                            429,
                            "rate_limit_error",
                            "Number of requests has exceeded your rate limit",
                            headers,
                        )
                    if status == 529:
                        return _error(529, "overloaded_error", "Overloaded", headers)
                    return _error(status, "api_error", f"injected {status}")
        self.stats["status"][200] += 1
        return web.json_response(
            answer_for(body, self.cache_read, self.cache_write), headers=self._rate_headers()
        )

    # ------------------------------------------------------------------ Message Batches
    async def _create(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = await request.json()
        requests = body.get("requests")
        if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BATCH_REQUESTS:
            return _error(400, "invalid_request_error", "requests: between 1 and 100000 items")
        ids = [r.get("custom_id") for r in requests]
        if len(set(ids)) != len(ids):
            return _error(400, "invalid_request_error", "custom_id values must be unique within a batch")
        batch_id = f"msgbatch_{len(self._batches) + 1:04d}_{hashlib.sha256(str(time.time()).encode()).hexdigest()[:8]}"
        results = []
        for item in requests:
            prompt = _text(item["params"]["messages"][-1]["content"])
            first = self._attempts[item["custom_id"]] == 0
            self._attempts[item["custom_id"]] += 1
            kind = next(
                (k for k in ("errored", "expired", "canceled") if f"[[batch:{k}]]" in prompt and first), None
            )
            if kind is None:
                result = {
                    "type": "succeeded",
                    "message": answer_for(item["params"], self.cache_read, self.cache_write),
                }
            elif kind == "errored":
                error = {"type": "invalid_request_error", "message": "injected error"}
                result = {"type": "errored", "error": {"type": "error", "error": error}}
            else:
                result = {"type": kind}
            results.append({"custom_id": item["custom_id"], "result": result})
        self._batches[batch_id] = {
            "created_at": _iso(datetime.now(timezone.utc)),
            "results": results,
            "polls": 0,
        }
        self.stats["batches_created"] += 1
        self.stats["batch_requests"] += len(requests)
        return web.json_response(self._describe(batch_id, request))

    def _describe(self, batch_id: str, request: web.Request) -> dict[str, Any]:
        batch = self._batches[batch_id]
        ended = batch["polls"] >= self.polls_to_end
        counts = Counter({"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0})
        for item in batch["results"]:
            counts[item["result"]["type"] if ended else "processing"] += 1
        root = f"{request.scheme}://{request.host}"
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": dict(counts),
            "ended_at": _iso(datetime.now(timezone.utc)) if ended else None,
            "created_at": batch["created_at"],
            "expires_at": _iso(datetime.now(timezone.utc) + timedelta(hours=24)),
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{root}/v1/messages/batches/{batch_id}/results" if ended else None,
        }

    async def _list(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        ids = list(reversed(self._batches))  # newest first
        after = request.query.get("after_id")
        if after in ids:
            ids = ids[ids.index(after) + 1 :]
        limit = int(request.query.get("limit", 20))
        page = ids[:limit]
        data = [self._describe(i, request) for i in page]
        return web.json_response(
            {
                "data": data,
                "has_more": len(ids) > limit,
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            }
        )

    async def _retrieve(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        batch_id = request.match_info["id"]
        if batch_id not in self._batches:
            return _error(404, "not_found_error", f"no batch {batch_id}")
        self.stats["polls"] += 1
        if not self.hold:
            self._batches[batch_id]["polls"] += 1
        return web.json_response(self._describe(batch_id, request))

    async def _results(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "not_found_error", "no such batch")
        if batch["polls"] < self.polls_to_end:
            return _error(400, "invalid_request_error", "batch is still processing")
        lines = "".join(json.dumps(item) + "\n" for item in batch["results"])
        return web.Response(body=lines.encode(), content_type="application/binary")
