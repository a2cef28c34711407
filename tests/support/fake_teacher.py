"""A fake OpenAI/DeepSeek-compatible teacher server for tests and benchmarks (not shipped in the wheel).

It speaks the real chat-completions wire protocol over HTTP (aiohttp.web), answers
deterministically, and injects the faults a real teacher API produces. Nothing here talks to
the outside world: it listens on 127.0.0.1 by default.

Routes
------
- ``POST /v1/chat/completions``: an OpenAI-format reply (no streaming: the engine never streams).
- Control: ``GET /_stats`` (``?brief=1`` leaves out the per-request maps), ``POST /_reset``
  (body ``{"config": true}`` also restores the start-up config).

Answers
-------
1. A *script* row whose ``match`` is a substring of the last user message (first match wins; a
   row with ``"seed"`` matches only requests with that seed).
2. Structured output: ``response_format`` ``json_schema`` gets a small instance valid against
   the schema (:func:`schema_instance`).
3. Otherwise a deterministic text of ``answer_bytes`` ASCII bytes derived from a hash of the
   messages, ``seed`` and ``temperature``: the same request always gets the same answer and
   different requests differ. With ``reasoning`` on, a DeepSeek-style ``reasoning_content`` of
   ``reasoning_bytes`` bytes comes with it.

Token counts (documented heuristic): ``estimate_tokens(text) = ceil(len(text) / 4)``;
``prompt_tokens`` = that over the concatenated text of every message; ``completion_tokens`` =
estimate(content) + estimate(reasoning_content); ``reasoning_tokens`` = estimate(reasoning_content).

Faults
------
Markers in the last user message: ``[[fault:KIND]]``, ``[[fault:KIND:COUNT]]`` (``COUNT`` = how many
attempts fail, default 1, ``*`` = every attempt), ``[[fault:slow:MS]]`` / ``[[fault:slow:MS:COUNT]]``
(extra latency, every attempt by default), and options ``key=value`` after them
(``[[fault:429:2:retry_after=0.25]]``). Attempts are counted per request hash
(:func:`request_hash`, the marker is part of it): attempt *n* is the *n*-th arrival of that exact
request. Several failing markers form a sequence: ``[[fault:429:1]][[fault:500:2]]`` answers 429,
then 500 twice, then succeeds.

Kinds: any HTTP status 400..599 (an OpenAI-format error body; ``429`` with ``Retry-After``,
``retry-after-ms`` and ``x-ratelimit-*`` headers), ``drop`` (connection closed without a response:
the client sees ``ServerDisconnectedError``), ``cut`` (headers and half of the body, then the
connection closes: ``ClientPayloadError``), ``malformed`` (200 with a body that is not valid JSON),
``truncated`` (``finish_reason="length"``, content cut in half), ``badjson`` (a structured-output
reply that parses as JSON but is invalid against the schema; plain invalid JSON without a schema),
``slow:MS``.

Global config: ``latency_ms`` (+ uniform ``jitter_ms``), ``fault_rate`` (``{"500": 0.5}``; the draw
is a hash of ``fault_seed``, request hash, attempt and kind, so it is reproducible whatever the
arrival order), ``fail_all_with`` (a kind, e.g. ``401``), ``api_key`` (requests without
``Authorization: Bearer <api_key>`` get 401), ``record_bodies``.

Stats
-----
``teacher.stats()`` / ``GET /_stats``: ``requests`` (chat requests received, every outcome),
``status`` (``"200"``, ``"429"``, ..., ``"drop"``, ``"cut"``, ``"client_gone"`` = the client
timed out during the latency), ``unique_requests`` / ``duplicate_requests`` (re-sends of an
identical body), ``per_hash`` (:func:`request_hash` -> count) and ``per_prompt`` (last user message
-> count), token totals, ``authorization`` (header value -> count), and with ``record_bodies``
every request's ``body``, ``headers``, ``hash`` and ``attempt``.

Ways to run
-----------
- In a thread: ``FakeTeacher(answer_bytes=512).start_in_thread() -> base_url`` and ``.stop()``, or
  ``with FakeTeacher() as teacher: teacher.base_url``.
- As a process (the repository root on ``PYTHONPATH``): ``python -m tests.support.fake_teacher
  --port 0 --config-json '{"latency_ms": 0}'`` prints ``READY http://127.0.0.1:PORT/v1`` once
  listening and stops on SIGTERM; :func:`start_fake_teacher_process` starts it and waits for that line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import gc
import hashlib
import json
import json.encoder
import os
import random
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = [
    "REPO_ROOT",
    "FakeTeacher",
    "FakeTeacherConfig",
    "estimate_tokens",
    "fetch_stats",
    "load_script",
    "main",
    "parse_fault_markers",
    "request_hash",
    "reset_teacher",
    "schema_instance",
    "start_fake_teacher_process",
    "stop_fake_teacher_process",
]

#: The checkout this module lives in: what a child process needs on ``PYTHONPATH`` to import it.
REPO_ROOT = Path(__file__).resolve().parents[2]

_dumps = json.dumps
_loads = json.loads

#: Fault kinds other than plain HTTP statuses.
SPECIAL_FAULTS = frozenset({"drop", "cut", "malformed", "truncated", "badjson"})
_MARKER_RE = re.compile(r"\[\[fault:([^\[\]]+)\]\]")
_RETRY_AFTER_S = 1.0  # ``Retry-After`` of an injected 429 without a ``retry_after=`` option


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def _check_kind(kind: Any, where: str) -> str:
    kind = str(kind).strip().lower()
    if kind in SPECIAL_FAULTS:
        return kind
    if kind.isdigit() and 400 <= int(kind) <= 599:
        return kind
    raise ValueError(
        f"{where}: unknown fault kind {kind!r}; expected an HTTP status 400..599 or one of "
        f"{sorted(SPECIAL_FAULTS)}"
    )


def _check_script(rows: Any) -> list[dict]:
    if not isinstance(rows, list):
        raise ValueError(f"script: expected a list of rows, got {type(rows).__name__}")
    out = []
    for i, row in enumerate(rows):
        where = f"script row {i}"
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected an object, got {type(row).__name__}")
        unknown = set(row) - {"match", "content", "reasoning_content", "seed"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
        if not isinstance(row.get("match"), str):
            raise ValueError(f"{where}: 'match' must be a string (a substring of the last user message)")
        if not isinstance(row.get("content"), str):
            raise ValueError(f"{where}: 'content' must be a string")
        if row.get("reasoning_content") is not None and not isinstance(row["reasoning_content"], str):
            raise ValueError(f"{where}: 'reasoning_content' must be a string")
        if row.get("seed") is not None and not isinstance(row["seed"], int):
            raise ValueError(f"{where}: 'seed' must be an integer")
        out.append(dict(row))
    return out


def load_script(path: str | os.PathLike) -> list[dict]:
    """Read a JSONL script file (one ``{"match": ..., "content": ...}`` object per line)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e})") from e
    try:
        return _check_script(rows)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


@dataclass(frozen=True)
class FakeTeacherConfig:
    """Everything the fake teacher can be told; change it live with ``FakeTeacher.configure``."""

    answer_bytes: int = 2048  #: size of the default answer (ASCII, so bytes == chars)
    reasoning: bool = False  #: add DeepSeek-style ``reasoning_content``
    reasoning_bytes: int = 1024
    latency_ms: float = 0.0  #: added before every answer
    jitter_ms: float = 0.0  #: plus uniform(0, jitter_ms), seeded with ``fault_seed``
    fault_rate: dict[str, float] = field(default_factory=dict)  #: kind -> probability
    fault_seed: int = 0
    fail_all_with: str | None = None  #: a fault kind every chat request gets (e.g. "401")
    api_key: str | None = None  #: when set, require ``Authorization: Bearer <api_key>``
    record_bodies: bool = False  #: keep every request body and its headers in the stats
    script: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        def setf(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name in ("answer_bytes", "reasoning_bytes"):
            value = int(getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} must be positive, got {value}")
            setf(name, value)
        for name in ("latency_ms", "jitter_ms"):
            value = float(getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
            setf(name, value)
        setf("fault_seed", int(self.fault_seed))
        rates = {}
        for kind, rate in dict(self.fault_rate or {}).items():
            rate = float(rate)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault_rate[{kind!r}] must be within [0, 1], got {rate}")
            rates[_check_kind(kind, "fault_rate")] = rate
        setf("fault_rate", rates)
        if self.fail_all_with is not None:
            setf("fail_all_with", _check_kind(self.fail_all_with, "fail_all_with"))
        setf("script", _check_script(list(self.script or [])))

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: FakeTeacherConfig | None = None) -> FakeTeacherConfig:
        """Build a config from ``data``, on top of ``base`` (unknown keys are an error)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fake-teacher option(s) {sorted(unknown)}; known: {sorted(known)}")
        if base is None:
            return cls(**data)
        return dataclasses.replace(base, **data)


# --------------------------------------------------------------------------------------------
# Deterministic content
# --------------------------------------------------------------------------------------------


def _canonical(obj: Any) -> bytes:
    return _dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _hashes(body: dict) -> tuple[str, str]:
    """(request hash, content key), sharing one canonical dump of the messages."""
    messages_json = _canonical(body.get("messages"))
    rest = {k: v for k, v in body.items() if k != "messages"}
    request = hashlib.blake2b(_canonical(rest) + b"\n" + messages_json, digest_size=16).hexdigest()
    tail = f"\n{body.get('seed')!r}|{body.get('temperature')!r}".encode()
    content = hashlib.blake2b(messages_json + tail, digest_size=16).hexdigest()
    return request, content


def request_hash(body: dict) -> str:
    """Identity of a request body: BLAKE2b-128 hex over its canonical JSON (sorted keys). Stats
    (``per_hash``) and fault attempt counts are keyed by it."""
    return _hashes(body)[0]


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _last_user_text(messages: list) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return _message_text(m.get("content"))
    return ""


def estimate_tokens(text: str) -> int:
    """The documented token heuristic: ceil(len(text) / 4)."""
    return (len(text) + 3) // 4


_WORDS = (
    "the of and to in is that for it as with was on be by this are from or an which at not have "
    "we can if so then let check value number sum case step prove result answer thus hence given "
    "consider compute solve equation function integer array string loop index output input test "
    "first second next last small large even odd prime root square total count order path graph"
).split()
_FILLER_SLACK = 4096


@functools.lru_cache(maxsize=16)
def _filler(size: int) -> str:
    """A fixed pseudo-random ASCII text of ``size + _FILLER_SLACK`` characters (built once per size)."""
    rng = random.Random(20240607)
    parts: list[str] = []
    n = 0
    target = size + _FILLER_SLACK
    while n < target:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14))).capitalize() + ". "
        parts.append(sentence)
        n += len(sentence)
    return "".join(parts)[:target]


@functools.lru_cache(maxsize=16)
def _sentence_starts(size: int) -> tuple[int, ...]:
    text = _filler(size)
    return tuple(i + 2 for i in range(_FILLER_SLACK) if text[i : i + 2] == ". ")


def _text_from_key(key: str, prefix: str, size: int) -> str:
    """``size`` characters of text that depend on ``key`` only (a slice of one shared filler)."""
    head = f"{prefix} {key[:16]}. "
    if size <= len(head):
        return head[:size]
    starts = _sentence_starts(size)
    offset = starts[int(key[16:24], 16) % len(starts)]
    return head + _filler(size)[offset : offset + size - len(head)]


# --------------------------------------------------------------------------------------------
# JSON-schema instances
# --------------------------------------------------------------------------------------------

_MAX_DEPTH = 12


def _resolve_ref(ref: str, root: Any) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    node = root
    for part in ref[1:].split("/"):
        if part:
            node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def schema_instance(
    schema: Any, *, salt: str = "0" * 32, _root: Any = None, _name: str = "value", _depth: int = 0
) -> Any:
    """A small JSON value valid against ``schema``: what pydantic models produce (objects, arrays,
    strings, numbers within ``minimum``/``maximum``, integers, booleans, null, enum/const,
    $ref/$defs, anyOf/oneOf, type lists). ``salt`` varies the strings so different requests differ.

    Every declared property is filled (as OpenAI's strict structured outputs do) except when
    nesting is deep (recursive schemas), where only required ones are.
    """
    root = schema if _root is None else _root
    if schema is True or schema is None:
        return f"{_name}-{salt[:8]}"
    if not isinstance(schema, dict):
        raise ValueError(f"not a JSON schema: {schema!r}")

    def inner(sub: Any, name: str = _name) -> Any:
        return schema_instance(sub, salt=salt, _root=root, _name=name, _depth=_depth + 1)

    if "$ref" in schema:
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        return inner({**_resolve_ref(schema["$ref"], root), **extra})
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0] if schema["enum"] else None
    for key in ("anyOf", "oneOf"):
        if key in schema:
            non_null = [o for o in schema[key] if not (isinstance(o, dict) and o.get("type") == "null")]
            if not non_null or _depth > _MAX_DEPTH:
                return None
            rest = {k: v for k, v in schema.items() if k != key}
            return inner({**rest, **non_null[0]} if isinstance(non_null[0], dict) else non_null[0])
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "null")
    if typ is None:
        typ = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if typ == "object":
        props: dict = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        names = list(props) if _depth <= _MAX_DEPTH else [n for n in props if n in required]
        names += [n for n in required if n not in names]
        return {n: inner(props.get(n, True), n) for n in names}
    if typ == "array":
        want = max(int(schema.get("minItems", 0)), 1 if _depth <= _MAX_DEPTH else 0)
        want = min(want, int(schema.get("maxItems", want)))
        return [inner(schema.get("items", True)) for _ in range(want)]
    if typ == "string":
        return f"{re.sub(r'[^A-Za-z0-9_]', '', _name) or 'value'}-{salt[:8]}"
    if typ in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        value = low if low is not None else high if high is not None and high < 0 else 0
        return int(value) if typ == "integer" else float(value)
    if typ == "boolean":
        return True
    if typ == "null":
        return None
    raise ValueError(f"unsupported JSON-schema type {typ!r}")


def _invalid_instance(schema: Any) -> Any:
    """A JSON value that parses but is invalid against ``schema`` (for ``badjson``)."""
    typ = schema.get("type") if isinstance(schema, dict) else None
    if typ == "object" or (isinstance(schema, dict) and "properties" in schema):
        return ["not", "an", "object"]
    if typ == "array":
        return {"not": "an array"}
    return {"not": "valid"} if typ != "null" else 0


# --------------------------------------------------------------------------------------------
# Fault markers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultMarker:
    """One ``[[fault:...]]`` marker: ``count`` None = every attempt."""

    kind: str
    count: int | None
    slow_ms: float = 0.0
    options: tuple[tuple[str, str], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        for k, v in self.options:
            if k == name:
                return v
        return default


@functools.lru_cache(maxsize=4096)
def parse_fault_markers(text: str) -> tuple[FaultMarker, ...]:
    """The fault markers in ``text``, in order (an unknown kind raises ``ValueError``)."""
    markers = []
    for spec in _MARKER_RE.findall(text):
        parts = [p.strip() for p in spec.split(":")]
        kind = parts[0].lower()
        rest = parts[1:]
        slow_ms = 0.0
        if kind == "slow":
            if not rest:
                raise ValueError(
                    f"fault marker [[fault:{spec}]]: 'slow' needs milliseconds, e.g. [[fault:slow:500]]"
                )
            slow_ms = float(rest[0])
            rest = rest[1:]
        else:
            kind = _check_kind(kind, f"fault marker [[fault:{spec}]]")
        count: int | None = None if kind == "slow" else 1
        options = []
        for p in rest:
            if "=" in p:
                k, v = p.split("=", 1)
                options.append((k.strip(), v.strip()))
            elif p in ("*", "always", "inf"):
                count = None
            else:
                try:
                    count = int(p)
                except ValueError:
                    raise ValueError(
                        f"fault marker [[fault:{spec}]]: bad count {p!r} (an integer or '*')"
                    ) from None
        markers.append(FaultMarker(kind, count, slow_ms, tuple(options)))
    return tuple(markers)


def _pick_marker(markers: tuple[FaultMarker, ...], attempt: int) -> FaultMarker | None:
    """The failing marker that applies to ``attempt`` (1-based): markers form a sequence."""
    done = 0
    for m in markers:
        if m.kind == "slow":
            continue
        if m.count is None:
            return m
        if attempt <= done + m.count:
            return m
        done += m.count
    return None


def _unit(*parts: Any) -> float:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _duration(seconds: float) -> str:
    """OpenAI's ``x-ratelimit-reset-*`` format: ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}m{secs:.3g}s"


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.3f}".rstrip("0")


_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (fault injected by the fake teacher)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key in your account settings.",
    ),
    403: ("permission_denied", "permission_denied", "You are not allowed to access this resource."),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model does not exist or you do not have access to it.",
    ),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}

_MALFORMED_BODY = (
    b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"index": 0, '
    b'"message": {"role": "assistant", "content": "this body is cut in the middle of a str'
)
_JSON_HEADERS = {"Content-Type": "application/json"}
_estr = json.encoder.encode_basestring_ascii  # a JSON string literal, ASCII-escaped (C speed)


def render_completion(
    rid: str, created: int, model: str, content: str, reasoning: str | None, finish: str, usage: dict
) -> bytes:
    """The ``chat.completion`` body, serialised by a template (a few times faster than json.dumps
    of the equivalent dict, which matters when the benchmark measures the engine against it; the
    tests check the two agree)."""
    rc = "" if reasoning is None else f',"reasoning_content":{_estr(reasoning)}'
    choice = (
        f'{{"index":0,"message":{{"role":"assistant","content":{_estr(content)}{rc}}},'
        f'"logprobs":null,"finish_reason":{_estr(finish)}}}'
    )
    u = usage
    return (
        f'{{"id":{_estr(rid)},"object":"chat.completion","created":{created},"model":{_estr(model)},'
        f'"choices":[{choice}],"usage":{{"prompt_tokens":{u["prompt_tokens"]},'
        f'"completion_tokens":{u["completion_tokens"]},"total_tokens":{u["total_tokens"]},'
        f'"prompt_tokens_details":{{"cached_tokens":0}},'
        f'"completion_tokens_details":{{"reasoning_tokens":{u["completion_tokens_details"]["reasoning_tokens"]}}}}},'
        f'"system_fingerprint":"fp_fake_teacher"}}'
    ).encode()


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class _Stats:
    __slots__ = (
        "authorization",
        "bodies",
        "completion_tokens",
        "per_hash",
        "per_prompt",
        "prompt_tokens",
        "requests",
        "status",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.status: dict[str, int] = {}
        self.per_hash: dict[str, int] = {}
        self.per_prompt: dict[str, int] = {}
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.bodies: list[dict] = []
        self.authorization: dict[str, int] = {}


class FakeTeacher:
    """The fake teacher server. See the module docstring for the protocol and the faults."""

    def __init__(self, config: FakeTeacherConfig | dict | None = None, **options: Any) -> None:
        if isinstance(config, dict):
            config = FakeTeacherConfig.from_dict(config)
        base = config or FakeTeacherConfig()
        self._initial_config = FakeTeacherConfig.from_dict(options, base) if options else base
        self.config = self._initial_config
        self._stats = _Stats()
        self._rng = random.Random(self.config.fault_seed)
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.host: str | None = None
        self.port: int | None = None

    # ---- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Root URL (control routes live here): ``http://127.0.0.1:PORT``."""
        if self.port is None:
            raise RuntimeError("the fake teacher is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL: ``http://127.0.0.1:PORT/v1``."""
        return self.url + "/v1"

    # ---- starting and stopping -------------------------------------------------------------

    async def _start(self, host: str, port: int) -> str:
        """Start listening on the running event loop; returns the base URL (``.../v1``)."""
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/_stats", self._stats_route)
        app.router.add_post("/_reset", self._reset_route)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.25)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=2048)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.host, self.port = host, int(runner.addresses[0][1])
        self._runner = runner
        self._loop = asyncio.get_running_loop()
        return self.base_url

    async def _stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0) -> str:
        """Run the server on its own event loop in a daemon thread; returns the base URL.

        After :meth:`stop`, ``start_in_thread(port=teacher.port)`` brings it back on the same port.
        """
        if self._thread is not None:
            raise RuntimeError("the fake teacher is already running in a thread")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        error: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start(host, port))
            except BaseException as e:
                error.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name=f"fake-teacher:{port}", daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise RuntimeError(f"the fake teacher did not start within {timeout}s")
        if error:
            thread.join()
            raise error[0]
        self._thread = thread
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a server started with :meth:`start_in_thread` (idempotent)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def __enter__(self) -> FakeTeacher:
        if self._runner is None:
            self.start_in_thread()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- control (safe from any thread) -----------------------------------------------------

    def _on_loop(self, fn: Any, *args: Any) -> Any:
        loop = self._loop
        if (
            self._thread is None
            or loop is None
            or threading.current_thread() is self._thread
            or not loop.is_running()
        ):
            return fn(*args)

        async def call() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(10)

    def stats(self, brief: bool = False) -> dict[str, Any]:
        """A snapshot of the counters (see :meth:`_snapshot` for the fields)."""
        return self._on_loop(self._snapshot, brief)

    def configure(self, **options: Any) -> FakeTeacherConfig:
        """Change config fields live (unknown names are an error); returns the new config."""
        return self._on_loop(self._configure, options)

    def _configure(self, options: dict) -> FakeTeacherConfig:
        new = FakeTeacherConfig.from_dict(options, self.config)
        if new.fault_seed != self.config.fault_seed:
            self._rng = random.Random(new.fault_seed)
        self.config = new
        return new

    def _reset(self, config: bool) -> None:
        self._stats = _Stats()
        if config:
            self.config = self._initial_config
        self._rng = random.Random(self.config.fault_seed)

    def _snapshot(self, brief: bool = False) -> dict[str, Any]:
        s = self._stats
        out: dict[str, Any] = {
            "requests": s.requests,  # chat-completion requests received (all outcomes)
            "status": dict(s.status),  # "200"/"429"/.../"drop"/"cut"/"client_gone" -> count
            "unique_requests": len(s.per_hash),
            "duplicate_requests": s.requests - len(s.per_hash),  # re-sends of an identical request
            "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.completion_tokens,
            "authorization": dict(s.authorization),  # Authorization header value -> count
        }
        if not brief:
            out["per_hash"] = dict(s.per_hash)  # request_hash(body) -> times received
            out["per_prompt"] = dict(s.per_prompt)  # last user message -> times received
        if self.config.record_bodies:
            out["bodies"] = list(s.bodies)
        return out

    # ---- routes ----------------------------------------------------------------------------

    async def _stats_route(self, request: web.Request) -> web.Response:
        brief = request.query.get("brief", "0").lower() in ("1", "true", "yes")
        return web.json_response(self._snapshot(brief))

    async def _reset_route(self, request: web.Request) -> web.Response:
        data = {}
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                data = await request.json()
        self._reset(bool(isinstance(data, dict) and data.get("config")))
        return web.json_response({"ok": True})

    # ---- chat completions -------------------------------------------------------------------

    def _record_status(self, status: str) -> None:
        st = self._stats.status
        st[status] = st.get(status, 0) + 1

    def _error(self, status: int, message: str | None = None, headers: dict | None = None) -> web.Response:
        typ, code, default_message = _ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}")
        )
        body = {"error": {"message": message or default_message, "type": typ, "param": None, "code": code}}
        self._record_status(str(status))
        return web.Response(
            status=status, body=_dumps(body).encode(), headers=headers, content_type="application/json"
        )

    def _error_429(self, retry_after: float) -> web.Response:
        reset = _duration(retry_after)
        headers = {
            "Retry-After": _seconds_header(retry_after),
            "retry-after-ms": str(round(retry_after * 1000)),
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": reset,
            "x-ratelimit-limit-tokens": "10000000",
            "x-ratelimit-remaining-tokens": "0",
            "x-ratelimit-reset-tokens": reset,
        }
        return self._error(429, None, headers)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        cfg = self.config
        s = self._stats
        s.requests += 1
        raw = await request.read()
        try:
            body = _loads(raw)
        except ValueError:
            return self._error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return self._error(400, "The request body must be a JSON object.")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return self._error(400, "'messages' must be a non-empty array of message objects.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._error(400, "You must provide a model parameter.")

        h, ckey = _hashes(body)
        per_hash = s.per_hash
        attempt = per_hash[h] = per_hash.get(h, 0) + 1
        last_user = _last_user_text(messages)
        s.per_prompt[last_user] = s.per_prompt.get(last_user, 0) + 1
        auth = request.headers.get("Authorization", "")
        s.authorization[auth] = s.authorization.get(auth, 0) + 1
        if cfg.record_bodies:
            s.bodies.append(
                {
                    "path": request.path,
                    "hash": h,
                    "attempt": attempt,
                    "time": time.time(),
                    "headers": dict(request.headers),
                    "body": body,
                }
            )
        if cfg.api_key is not None and auth != f"Bearer {cfg.api_key}":
            return self._error(401)

        # ---- which fault, if any, and how slow -----------------------------------------------
        marker: FaultMarker | None = None
        kind: str | None = None
        latency = cfg.latency_ms
        if cfg.jitter_ms:
            latency += self._rng.uniform(0.0, cfg.jitter_ms)
        if cfg.fail_all_with is not None:
            kind = cfg.fail_all_with
        elif "[[fault:" in last_user:
            try:
                markers = parse_fault_markers(last_user)
            except ValueError as e:
                return self._error(400, f"fake teacher: {e}")
            for m in markers:
                if m.kind == "slow" and (m.count is None or attempt <= m.count):
                    latency += m.slow_ms
            marker = _pick_marker(markers, attempt)
            if marker is not None:
                kind = marker.kind
        if kind is None and cfg.fault_rate:
            for k, rate in cfg.fault_rate.items():
                if rate > 0 and _unit(cfg.fault_seed, h, attempt, k) < rate:
                    kind = k
                    break
        if kind is not None and kind not in ("truncated", "badjson", "cut"):
            if not await self._wait(request, latency):
                return web.Response(status=499)
            if kind == "drop":
                self._record_status("drop")
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=204)
            if kind == "malformed":
                self._record_status("200")
                return web.Response(status=200, body=_MALFORMED_BODY, headers=_JSON_HEADERS)
            if kind == "429":
                retry_after = _RETRY_AFTER_S
                if marker is not None and marker.option("retry_after") is not None:
                    retry_after = float(marker.option("retry_after"))
                return self._error_429(retry_after)
            return self._error(int(kind))

        # ---- the answer: built before the latency, so only the write is left after it ---------
        self._seq += 1
        rid = f"chatcmpl-fake{self._seq:010d}{h[:8]}"
        content, reasoning, finish = self._answer(cfg, body, ckey, last_user, kind)
        prompt_tokens = estimate_tokens("".join(_message_text(m.get("content")) for m in messages))
        reasoning_tokens = estimate_tokens(reasoning or "")
        completion_tokens = estimate_tokens(content) + reasoning_tokens
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        }
        payload = render_completion(rid, int(time.time()), model, content, reasoning, finish, usage)
        if not await self._wait(request, latency):
            return web.Response(status=499)
        s.prompt_tokens += prompt_tokens
        s.completion_tokens += completion_tokens
        if kind == "cut":
            self._record_status("cut")
            resp = web.StreamResponse(headers=_JSON_HEADERS)
            resp.content_length = len(payload)
            await resp.prepare(request)
            await resp.write(payload[: len(payload) // 2])
            if request.transport is not None:
                request.transport.close()
            return resp
        self._record_status("200")
        return web.Response(body=payload, headers=_JSON_HEADERS)

    async def _wait(self, request: web.Request, latency_ms: float) -> bool:
        """Sleep the latency; False (and counted as ``client_gone``) if the client left meanwhile."""
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000.0)
            transport = request.transport
            if transport is None or transport.is_closing():
                self._record_status("client_gone")
                return False
        return True

    def _answer(
        self, cfg: FakeTeacherConfig, body: dict, ckey: str, last_user: str, kind: str | None
    ) -> tuple[str, str | None, str]:
        """(content, reasoning_content, finish_reason) for one request."""
        seed = body.get("seed")
        row = next((r for r in cfg.script if r["match"] in last_user and r.get("seed") in (None, seed)), None)
        rf = body.get("response_format")
        schema = None
        if isinstance(rf, dict) and rf.get("type") == "json_schema":
            js = rf.get("json_schema") or {}
            schema = js.get("schema", {}) if isinstance(js, dict) else {}
        reasoning = None
        finish = "stop"
        if row is not None:
            content = row["content"]
            reasoning = row.get("reasoning_content")
        elif schema is not None:
            content = _dumps(schema_instance(schema, salt=ckey))
        else:
            content = _text_from_key(ckey, "Answer", cfg.answer_bytes)
        if reasoning is None and cfg.reasoning:
            reasoning = _text_from_key(ckey[16:] + ckey[:16], "Reasoning", cfg.reasoning_bytes)
        if kind == "badjson":
            content = _dumps(_invalid_instance(schema)) if schema is not None else '{"answer": "not closed'
        elif kind == "truncated":
            content, finish = content[: len(content) // 2], "length"
        return content, reasoning, finish


# --------------------------------------------------------------------------------------------
# HTTP control helpers (work for in-thread servers and subprocesses alike)
# --------------------------------------------------------------------------------------------


def _control(base_url: str, path: str, payload: Any = None, timeout: float = 30.0) -> Any:
    base = base_url.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(
        root + path,
        data=data,
        method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def fetch_stats(base_url: str, brief: bool = False) -> dict[str, Any]:
    """``GET /_stats`` of the fake teacher at ``base_url`` (with or without ``/v1``)."""
    return _control(base_url, "/_stats?brief=1" if brief else "/_stats")


def reset_teacher(base_url: str, config: bool = False) -> None:
    """``POST /_reset``: clear stats and attempt counters (and the config when ``config``)."""
    _control(base_url, "/_reset", {"config": config})


# --------------------------------------------------------------------------------------------
# Subprocess mode
# --------------------------------------------------------------------------------------------


def start_fake_teacher_process(
    *, cpu: int | None = None, timeout: float = 30.0, **options: Any
) -> tuple[subprocess.Popen, str]:
    """Start ``python -m tests.support.fake_teacher`` and wait for its READY line.

    ``options`` are :class:`FakeTeacherConfig` fields (checked here first); ``cpu`` pins the
    server to one core (``os.sched_setaffinity``). Returns ``(process, base_url)``; stop it with
    :func:`stop_fake_teacher_process` (SIGTERM).
    """
    FakeTeacherConfig.from_dict(options)  # fail fast, in the caller, on a bad option
    config_json = json.dumps(options)
    config_file = None
    if len(config_json) > 32_000:  # a long script: too big for one command-line argument
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
            f.write(config_json)
        config_file = f.name
        config_json = "@" + config_file
    cmd = [sys.executable, "-m", "tests.support.fake_teacher", "--config-json", config_json]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    try:
        return proc, _wait_ready(proc, timeout)
    finally:
        if config_file is not None:
            os.unlink(config_file)


def _wait_ready(proc: subprocess.Popen, timeout: float) -> str:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                stop_fake_teacher_process(proc)
                raise RuntimeError(f"the fake teacher process did not print READY within {timeout}s")
            if sel.select(min(left, 0.5)):
                chunk = os.read(fd, 4096)
                if not chunk:
                    proc.wait(5)
                    raise RuntimeError(
                        f"the fake teacher process exited (code {proc.returncode}) before READY: {proc.args}"
                    )
                buf += chunk
    line = buf.split(b"\n", 1)[0].decode().strip()
    if not line.startswith("READY "):
        stop_fake_teacher_process(proc)
        raise RuntimeError(f"unexpected first line from the fake teacher process: {line!r}")
    return line.split(" ", 1)[1]


def stop_fake_teacher_process(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGTERM the process (SIGKILL after ``timeout``); returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    return proc.returncode


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tests.support.fake_teacher",
        description="Fake OpenAI-compatible teacher server. Prints 'READY <base_url>' once listening; "
        "SIGTERM stops it.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU core")
    p.add_argument("--config-json", default="{}", help="config fields as a JSON object, or @FILE")
    return p.parse_args(argv)


async def _serve(config: FakeTeacherConfig, host: str, port: int) -> None:
    teacher = FakeTeacher(config)
    url = await teacher._start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gc.freeze()  # long-lived start-up objects stay out of the collector's way
    sys.stdout.write(f"READY {url}\n")
    sys.stdout.flush()
    await stop.wait()
    await teacher._stop()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        text = args.config_json
        if text.startswith("@"):
            text = Path(text[1:]).read_text(encoding="utf-8")
        config = FakeTeacherConfig.from_dict(json.loads(text))
    except (ValueError, OSError) as e:
        print(f"fake_teacher: {e}", file=sys.stderr)
        return 2
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    asyncio.run(_serve(config, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
