"""A fake OpenAI Batch API on 127.0.0.1 speaking the real wire format (not shipped in the wheel).

- ``POST /v1/files`` (multipart, ``purpose=batch``): a JSONL of ``{custom_id, method, url, body}``
  lines, at most 50,000 of them and 200 MB; answers a ``file`` object.
- ``POST /v1/batches`` (``input_file_id``, ``endpoint``, ``completion_window``, ``metadata``),
  ``GET /v1/batches`` (``limit``/``after`` paging, newest first), ``GET /v1/batches/{id}``: each poll
  moves a batch one step along validating -> in_progress -> finalizing -> its end: ``failed`` (the
  input did not validate: ``errors.data`` names the line), ``expired`` (when a request holds
  ``[[batch:expired]]``: the others are in the output file, the expired ones in the error file as
  ``batch_expired``) or ``completed``. ``[[batch:errored]]`` gives that request a 500 line in the
  error file. Both markers act the first time a ``custom_id`` is in a batch only.
- ``GET /v1/files`` (``purpose``, ``limit``/``after`` paging, newest first), ``GET /v1/files/{id}/content``:
  the input, output or error JSONL.
- ``POST /v1/chat/completions``: the same answer live (for what a batch left unanswered).

``hold = True`` keeps every batch in_progress until it is set back to False; ``reject_input = True``
fails every batch's validation. ``[[big]]`` in a prompt makes
its reasoning 400 KB (one long line in the output file).
Every route wants ``Authorization: Bearer <api_key>`` (401 otherwise). ``stats``: ``uploads``, ``file_lists``,
``batches_created``, ``batch_requests`` (requests in every created batch), ``polls``,
``live_requests``, ``authorization`` values seen.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from typing import Any

from aiohttp import web

from tests.support.threaded_app import ThreadedApp

MAX_REQUESTS, MAX_BYTES = 50_000, 200 * 1024 * 1024
STEPS = ("validating", "in_progress", "finalizing")


def completion_for(body: dict[str, Any]) -> dict[str, Any]:
    """The deterministic chat.completion the fake answers for a request body (live or batched)."""
    digest = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()[:12]
    prompt = body["messages"][-1]["content"]
    reasoning = f"think {prompt[:30]}" + ("." * 400_000 if "[[big]]" in prompt else "")
    return {
        "id": f"chatcmpl-{digest}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": f"answer {digest}",
                    "reasoning_content": reasoning,
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": max(1, len(prompt) // 4), "completion_tokens": 10, "total_tokens": 0},
    }


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "code": None}}, status=status
    )


class FakeBatchOpenAI(ThreadedApp):
    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.hold = False  #: while True, batches stay in_progress however often they are polled
        self.reject_input = False  #: while True, every batch fails validation (status failed, errors.data)
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._seen: Counter[str] = Counter()  # custom_id -> batches it was in
        self.stats: dict[str, Any] = {
            "uploads": 0,
            "file_lists": 0,
            "batches_created": 0,
            "batch_requests": 0,
            "polls": 0,
            "live_requests": 0,
            "authorization": Counter(),
        }

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files", self._list_files)
        app.router.add_get("/v1/files/{id}/content", self._content)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches", self._list)
        app.router.add_get("/v1/batches/{id}", self._retrieve)
        app.router.add_post("/v1/chat/completions", self._chat)

    def _refused(self, request: web.Request) -> web.Response | None:
        value = request.headers.get("Authorization")
        self.stats["authorization"][value] += 1
        if value != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided")
        return None

    def _new_file(self, data: bytes, purpose: str, filename: str) -> dict[str, Any]:
        file_id = f"file-{len(self.files) + 1:04d}{hashlib.sha256(data).hexdigest()[:6]}"
        public = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
        }
        self.files[file_id] = {"data": data, "purpose": purpose, "filename": filename, "public": public}
        return public

    async def _list_files(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        purpose = request.query.get("purpose")
        ids = [i for i in reversed(self.files) if purpose is None or self.files[i]["purpose"] == purpose]
        after = request.query.get("after")
        if after in ids:
            ids = ids[ids.index(after) + 1 :]
        limit = int(request.query.get("limit", 10_000))
        page = ids[:limit]
        self.stats["file_lists"] += 1
        return web.json_response(
            {"object": "list", "data": [self.files[i]["public"] for i in page], "has_more": len(ids) > limit}
        )

    async def _upload(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        form = await request.post()
        upload = form.get("file")
        if form.get("purpose") != "batch" or upload is None or isinstance(upload, str):
            return _error(400, "purpose must be 'batch' and a file is required")
        data = upload.file.read()
        if len(data) > MAX_BYTES:
            return _error(400, "file is larger than 200 MB")
        self.stats["uploads"] += 1
        return web.json_response(self._new_file(data, "batch", upload.filename))

    async def _content(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        file = self.files.get(request.match_info["id"])
        if file is None:
            return _error(404, "No such File object")
        return web.Response(body=file["data"], content_type="application/octet-stream")

    async def _create(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        body = await request.json()
        file = self.files.get(body.get("input_file_id"))
        if file is None:
            return _error(400, "input_file_id not found")
        if body.get("completion_window") != "24h" or body.get("endpoint") != "/v1/chat/completions":
            return _error(400, "unsupported endpoint or completion_window")
        lines = [json.loads(line) for line in file["data"].splitlines() if line.strip()]
        batch_id = f"batch_{len(self.batches) + 1:04d}"
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
            "_lines": lines,
            "_step": 0,
            "_history": ["validating"],  # every status a poll answered, after the create's own
        }
        self.stats["batches_created"] += 1
        self.stats["batch_requests"] += len(lines)
        return web.json_response(self._public(batch_id))

    def _public(self, batch_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.batches[batch_id].items() if not k.startswith("_")}

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        ids = list(reversed(self.batches))
        after = request.query.get("after")
        if after in ids:
            ids = ids[ids.index(after) + 1 :]
        limit = int(request.query.get("limit", 20))
        page = ids[:limit]
        return web.json_response(
            {
                "object": "list",
                "data": [self._public(i) for i in page],
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
                "has_more": len(ids) > limit,
            }
        )

    async def _retrieve(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "No such batch")
        self.stats["polls"] += 1
        if batch["status"] in STEPS and not (self.hold and batch["status"] == "in_progress"):
            batch["_step"] += 1
            if batch["_step"] < len(STEPS):
                batch["status"] = STEPS[batch["_step"]]
            else:
                self._finish(batch)
        batch["_history"].append(batch["status"])
        return web.json_response(self._public(batch["id"]))

    def history(self, batch_id: str) -> list[str]:
        """The statuses the client saw: the create's answer, then one per poll."""
        return list(self.batches[batch_id]["_history"])

    def _finish(self, batch: dict[str, Any]) -> None:
        problems = [
            {
                "code": "invalid_request",
                "message": "each line needs custom_id, method POST, url and body",
                "line": n,
            }
            for n, line in enumerate(batch["_lines"], 1)
            if not line.get("custom_id")
            or line.get("method") != "POST"
            or line.get("url") != batch["endpoint"]
        ]
        if self.reject_input:
            problems.append({"code": "invalid_request", "message": "rejected by the test", "line": 1})
        ids = [line.get("custom_id") for line in batch["_lines"]]
        if len(set(ids)) != len(ids):
            problems.append(
                {"code": "duplicate_custom_id", "message": "custom_id values must be unique", "line": None}
            )
        if len(ids) > MAX_REQUESTS:
            problems.append({"code": "too_many_requests", "message": "at most 50,000 requests", "line": None})
        if problems:
            batch["status"], batch["errors"] = "failed", {"object": "list", "data": problems}
            return
        output, errors, expired = [], [], False
        for line in batch["_lines"]:
            first = self._seen[line["custom_id"]] == 0
            self._seen[line["custom_id"]] += 1
            prompt = line["body"]["messages"][-1]["content"]
            row: dict[str, Any] = {
                "id": f"batch_req_{len(output) + len(errors)}",
                "custom_id": line["custom_id"],
            }
            if first and "[[batch:expired]]" in prompt:
                expired = True
                errors.append(
                    {
                        **row,
                        "response": None,
                        "error": {
                            "code": "batch_expired",
                            "message": "This request could not be executed before the completion window expired.",
                        },
                    }
                )
            elif first and "[[batch:errored]]" in prompt:
                body = {"error": {"message": "injected server error", "type": "server_error"}}
                errors.append(
                    {
                        **row,
                        "response": {"status_code": 500, "request_id": "req_x", "body": body},
                        "error": None,
                    }
                )
            else:
                response = {"status_code": 200, "request_id": "req_ok", "body": completion_for(line["body"])}
                output.append({**row, "response": response, "error": None})
        if output:
            batch["output_file_id"] = self._new_file(_jsonl(output), "batch_output", "output.jsonl")["id"]
        if errors:
            batch["error_file_id"] = self._new_file(_jsonl(errors), "batch_output", "errors.jsonl")["id"]
        batch["request_counts"] = {
            "total": len(batch["_lines"]),
            "completed": len(output),
            "failed": len(errors),
        }
        batch["status"] = "expired" if expired else "completed"

    async def _chat(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        self.stats["live_requests"] += 1
        return web.json_response(completion_for(await request.json()))


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()
