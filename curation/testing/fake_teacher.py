"""A fake OpenAI/DeepSeek-compatible teacher server for tests and benchmarks.

It speaks the real chat-completions wire protocol over HTTP (aiohttp.web), answers
deterministically, and injects the faults a real teacher API produces. Nothing here talks to
the outside world: it listens on 127.0.0.1 by default.

Routes
------
- ``POST /v1/chat/completions`` (also ``/chat/completions``): OpenAI-format reply, or SSE chunks
  with ``"stream": true`` (final usage chunk when ``stream_options.include_usage``).
- ``GET /v1/models`` (also ``/models``), ``GET /health``.
- Control: ``GET /_stats`` (``?brief=1`` leaves out the per-request maps), ``POST /_reset``
  (body ``{"config": true}`` also restores the start-up config), ``GET|POST /_config`` (a JSON
  object of :class:`FakeTeacherConfig` fields to change; answers the whole config).

Answers
-------
1. A *script* row whose ``match`` is a substring of the last user message (first match wins; a
   row with ``"seed"`` matches only requests with that seed). ``content`` may be a list: attempt
   *k* of the same request gets item *k* (the last one repeats).
2. Structured output: ``response_format`` ``json_schema`` gets a minimal instance valid against
   the schema (:func:`schema_instance`); ``json_object`` gets ``{"answer": "..."}``.
3. Otherwise a deterministic text of ``answer_bytes`` ASCII bytes derived from a hash of the
   messages, ``seed`` and ``temperature`` (:func:`default_answer`): the same request always gets the
   same answer and different requests differ. With ``reasoning`` on, a DeepSeek-style
   ``reasoning_content`` of ``reasoning_bytes`` bytes comes with it.

``max_tokens`` / ``max_completion_tokens`` are honoured (``honor_max_tokens``): a reply longer
than the budget is cut (reasoning first, as DeepSeek counts it) with ``finish_reason="length"``.

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

Global config: ``latency_ms`` (+ uniform ``jitter_ms``), ``fault_rate`` (``{"429": 0.1, "drop":
0.01}``; the draw is a hash of ``fault_seed``, request hash, attempt and kind, so it is reproducible
whatever the arrival order), ``rpm_limit`` over ``rpm_window_s`` (429 with ``Retry-After`` until the
window frees), ``fail_all_with`` (a kind, e.g. ``401``), ``api_key`` (requests without
``Authorization: Bearer <api_key>`` get 401), ``models`` (unknown model -> 404).

Stats
-----
``teacher.stats()`` / ``GET /_stats``: ``requests`` (chat requests received, every outcome),
``status`` (``"200"``, ``"429"``, ..., ``"drop"``, ``"cut"``, ``"client_gone"`` = the client
timed out during the latency), ``faults`` (injected, by kind), ``rate_limited`` (rpm-limit 429s),
``unique_requests`` / ``duplicate_requests`` (re-sends of an identical body), ``per_hash``
(:func:`request_hash` -> count) and ``per_prompt`` (last user message -> count), ``in_flight`` /
``max_in_flight``, token totals, ``authorization`` (header value -> count), and with
``record_bodies`` every request's ``body``, ``headers``, ``hash`` and ``attempt``.

Ways to run
-----------
- In a thread: ``FakeTeacher(answer_bytes=512).start_in_thread() -> base_url`` and ``.stop()``, or
  ``with FakeTeacher() as teacher: teacher.base_url``.
- On the caller's event loop: ``await teacher.start_async()`` / ``await teacher.stop_async()``,
  or ``async with FakeTeacher() as teacher``.
- As a process: ``python -m curation.testing.fake_teacher --port 0 --latency-ms 0`` prints
  ``READY http://127.0.0.1:PORT/v1`` once listening and stops on SIGTERM;
  :func:`start_fake_teacher_process` starts it and waits for that line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import json
import json.encoder
import math
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
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from thoughtmill import import_root

__all__ = [
    "FakeTeacher",
    "FakeTeacherConfig",
    "FakeTeacherProcess",
    "configure_teacher",
    "default_answer",
    "default_reasoning",
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

_dumps = json.dumps
_loads = json.loads

#: Fault kinds other than plain HTTP statuses.
SPECIAL_FAULTS = frozenset({"drop", "cut", "malformed", "truncated", "badjson"})
#: Request fields that do not change the answer (transport only): left out of the request hash.
_NOT_IN_REST = frozenset({"messages", "stream", "stream_options"})
_MARKER_RE = re.compile(r"\[\[fault:([^\[\]]+)\]\]")


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
        unknown = set(row) - {"match", "content", "reasoning_content", "finish_reason", "seed"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
        if not isinstance(row.get("match"), str):
            raise ValueError(f"{where}: 'match' must be a string (a substring of the last user message)")
        content = row.get("content")
        if isinstance(content, list):
            if not content or not all(isinstance(c, str) for c in content):
                raise ValueError(f"{where}: 'content' as a list must hold at least one string")
        elif not isinstance(content, str):
            raise ValueError(f"{where}: 'content' must be a string or a list of strings")
        if row.get("reasoning_content") is not None and not isinstance(row["reasoning_content"], str):
            raise ValueError(f"{where}: 'reasoning_content' must be a string")
        if "finish_reason" in row and not isinstance(row["finish_reason"], str):
            raise ValueError(f"{where}: 'finish_reason' must be a string")
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
    """Everything the fake teacher can be told; change it live with ``POST /_config``."""

    model: str | None = None  #: model name in replies; None echoes the request's ``model``
    models: list[str] | None = None  #: if set, a request for another model gets 404
    answer_bytes: int = 2048  #: size of the default answer (ASCII, so bytes == chars)
    reasoning: bool = False  #: add DeepSeek-style ``reasoning_content``
    reasoning_bytes: int = 1024
    latency_ms: float = 0.0  #: added before every answer (not before rpm-limit 429s)
    jitter_ms: float = 0.0  #: plus uniform(0, jitter_ms), seeded with ``fault_seed``
    fault_rate: dict[str, float] = field(default_factory=dict)  #: kind -> probability
    fault_seed: int = 0
    retry_after_s: float = 1.0  #: ``Retry-After`` of injected 429s (fractional allowed)
    rpm_limit: int | None = None  #: server-side requests per ``rpm_window_s``; over it: 429
    rpm_window_s: float = 60.0
    fail_all_with: str | None = None  #: a fault kind every chat request gets (e.g. "401")
    api_key: str | None = None  #: when set, require ``Authorization: Bearer <api_key>``
    honor_max_tokens: bool = True
    stream_chunk_chars: int = 512  #: characters per SSE delta
    record_bodies: bool = False  #: keep every request body and its headers in the stats
    script: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        def setf(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name in ("answer_bytes", "reasoning_bytes", "stream_chunk_chars"):
            value = int(getattr(self, name))
            if value < 0 or (name == "stream_chunk_chars" and value < 1):
                raise ValueError(f"{name} must be positive, got {value}")
            setf(name, value)
        for name in ("latency_ms", "jitter_ms", "retry_after_s", "rpm_window_s"):
            value = float(getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
            setf(name, value)
        if self.rpm_limit is not None:
            setf("rpm_limit", int(self.rpm_limit))
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
        if self.models is not None:
            setf("models", [str(m) for m in self.models])
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# Deterministic content
# --------------------------------------------------------------------------------------------


def _canonical(obj: Any) -> bytes:
    return _dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _hashes(body: dict) -> tuple[str, str]:
    """(request hash, content key), sharing one canonical dump of the messages."""
    mj = _canonical(body.get("messages"))
    rest = {k: v for k, v in body.items() if k not in _NOT_IN_REST}
    rh = hashlib.blake2b(_canonical(rest) + b"\n" + mj, digest_size=16).hexdigest()
    return rh, _content_key_from(mj, body.get("seed"), body.get("temperature"))


def request_hash(body: dict) -> str:
    """Identity of a request body: BLAKE2b-128 hex over its canonical JSON (sorted keys), less the
    transport-only ``stream`` / ``stream_options``. Stats (``per_hash``) and fault attempt counts
    are keyed by it."""
    return _hashes(body)[0]


def _content_key_from(messages_json: bytes, seed: Any, temperature: Any) -> str:
    tail = f"\n{seed!r}|{temperature!r}".encode()
    return hashlib.blake2b(messages_json + tail, digest_size=16).hexdigest()


def _content_key(messages: Any, seed: Any, temperature: Any) -> str:
    return _content_key_from(_canonical(messages), seed, temperature)


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


_WORDS_TEXT = (
    "the of and to in is that for it as with was on be by this are from or an which at not have "
    "we can if so then let check value number sum case step prove result answer thus hence given "
    "consider compute solve equation function integer array string loop index output input test "
    "first second next last small large even odd prime root square total count order path graph"
)
_WORDS = _WORDS_TEXT.split()
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
    head = f"{prefix} {key[:16]}. "
    if size <= len(head):
        return head[:size]
    starts = _sentence_starts(size)
    offset = starts[int(key[16:24], 16) % len(starts)]
    return head + _filler(size)[offset : offset + size - len(head)]


def default_answer(
    messages: list, seed: int | None = None, temperature: float | None = None, answer_bytes: int = 2048
) -> str:
    """The default (unscripted, unstructured) content the fake teacher gives for these messages."""
    return _text_from_key(_content_key(messages, seed, temperature), "Answer", answer_bytes)


def default_reasoning(
    messages: list, seed: int | None = None, temperature: float | None = None, reasoning_bytes: int = 1024
) -> str:
    """The ``reasoning_content`` the fake teacher gives for these messages when reasoning is on."""
    key = _content_key(messages, seed, temperature)
    return _text_from_key(key[16:] + key[:16], "Reasoning", reasoning_bytes)


# --------------------------------------------------------------------------------------------
# JSON-schema instances
# --------------------------------------------------------------------------------------------

_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com/x",
    "url": "https://example.com/x",
    "iri": "https://example.com/x",
    "uri-reference": "https://example.com/x",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "duration": "P1D",
    "regex": ".*",
}
_MAX_DEPTH = 12


def _resolve_ref(ref: str, root: Any) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    node = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _merge_all_of(schema: dict, root: Any) -> dict:
    merged: dict = {k: v for k, v in schema.items() if k != "allOf"}
    for sub in schema["allOf"]:
        while isinstance(sub, dict) and "$ref" in sub:
            extra = {k: v for k, v in sub.items() if k != "$ref"}
            sub = {**_resolve_ref(sub["$ref"], root), **extra}
        if isinstance(sub, dict) and "allOf" in sub:
            sub = _merge_all_of(sub, root)
        if not isinstance(sub, dict):
            continue
        for k, v in sub.items():
            if k == "properties":
                merged["properties"] = {**merged.get("properties", {}), **v}
            elif k == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *v]))
            else:
                merged.setdefault(k, v)
    return merged


def _number(schema: dict, integer: bool, index: int) -> int | float:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(xlo, bool):  # draft-4: a flag on minimum
        lo, xlo = (None, lo) if xlo else (lo, None)
    if isinstance(xhi, bool):
        hi, xhi = (None, hi) if xhi else (hi, None)
    step = schema.get("multipleOf")
    if integer:
        lows = ([math.ceil(lo)] if lo is not None else []) + (
            [math.floor(xlo) + 1] if xlo is not None else []
        )
        highs = ([math.floor(hi)] if hi is not None else []) + (
            [math.ceil(xhi) - 1] if xhi is not None else []
        )
        low, high = (max(lows) if lows else None), (min(highs) if highs else None)
        value = index
        if low is not None and value < low:
            value = low
        if high is not None and value > high:
            value = high
        if step:
            multiple = math.ceil(value / step) * step
            if high is not None and multiple > high:
                multiple = math.floor(value / step) * step
            value = multiple
        return int(value)

    def ok(v: float) -> bool:
        return (
            (lo is None or v >= lo)
            and (xlo is None or v > xlo)
            and (hi is None or v <= hi)
            and (xhi is None or v < xhi)
        )

    lower = max([b for b in (lo, xlo) if b is not None], default=None)
    upper = min([b for b in (hi, xhi) if b is not None], default=None)
    value = float(index)
    if not ok(value):
        if lower is not None and upper is not None:
            value = float(lower) if lower == upper else (lower + upper) / 2
        elif lower is not None:
            value = float(lower) if ok(float(lower)) else lower + 1.0
        else:
            value = float(upper) if ok(float(upper)) else upper - 1.0
    if step:
        multiple = math.ceil(value / step) * step
        if not ok(multiple):
            multiple = math.floor(value / step) * step
        value = multiple
    return float(value)


def _string(schema: dict, name: str, salt: str, index: int) -> str:
    fmt = schema.get("format")
    if fmt in _FORMATS:
        base = _FORMATS[fmt]
    else:
        stem = re.sub(r"[^A-Za-z0-9_]", "", name) or "value"
        base = f"{stem}-{salt[:8]}" + (f"-{index}" if index else "")
    pattern = schema.get("pattern")
    if pattern:
        try:
            rx = re.compile(pattern)
        except re.error:
            rx = None
        if rx is not None and not rx.search(base):
            for cand in ("a", "A", "0", "a0", "aa", "abc", "x1", "2024-01-01", "a-b", "", "test"):
                if rx.search(cand):
                    base = cand
                    break
    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if lo is not None and len(base) < lo:
        base = base + "x" * (lo - len(base))
    if hi is not None and len(base) > hi:
        base = base[:hi]
    return base


def schema_instance(
    schema: Any,
    *,
    salt: str = "0" * 32,
    _root: Any = None,
    _name: str = "value",
    _depth: int = 0,
    _index: int = 0,
) -> Any:
    """A small JSON value valid against ``schema`` (objects, arrays, strings, numbers, integers,
    booleans, null, enum/const, $ref/$defs, anyOf/oneOf/allOf, type lists, common formats,
    length/range/item-count bounds). ``salt`` varies the strings so different requests differ.

    Every declared property is filled (as OpenAI's strict structured outputs do) except when
    nesting is deep (recursive schemas), where only required ones are.
    """
    root = schema if _root is None else _root
    if schema is True or schema is None:
        return f"{_name}-{salt[:8]}"
    if schema is False:
        raise ValueError("the schema 'false' has no valid instance")
    if not isinstance(schema, dict):
        raise ValueError(f"not a JSON schema: {schema!r}")
    if "$ref" in schema:
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        return schema_instance(
            {**_resolve_ref(schema["$ref"], root), **extra},
            salt=salt,
            _root=root,
            _name=_name,
            _depth=_depth + 1,
            _index=_index,
        )
    if "allOf" in schema:
        return schema_instance(
            _merge_all_of(schema, root), salt=salt, _root=root, _name=_name, _depth=_depth + 1, _index=_index
        )
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        options = schema["enum"]
        return options[_index % len(options)] if options else None
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = schema[key]
            non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            pick = (
                options[0]
                if (not non_null or (_depth > _MAX_DEPTH and len(non_null) < len(options)))
                else non_null[0]
            )
            if pick in options and isinstance(pick, dict) and pick.get("type") == "null":
                return None
            rest = {k: v for k, v in schema.items() if k != key}
            sub = {**rest, **pick} if isinstance(pick, dict) else pick
            return schema_instance(sub, salt=salt, _root=root, _name=_name, _depth=_depth + 1, _index=_index)

    typ = schema.get("type")
    if isinstance(typ, list):
        non_null = [t for t in typ if t != "null"]
        if not non_null:
            return None
        typ = non_null[0]
    if typ is None:
        if "properties" in schema or "required" in schema or "additionalProperties" in schema:
            typ = "object"
        elif "items" in schema or "prefixItems" in schema:
            typ = "array"
        elif any(
            k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
        ):
            typ = "number"
        else:
            typ = "string"

    if typ == "object":
        props: dict = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        names = list(props) if _depth <= _MAX_DEPTH else [n for n in props if n in required]
        names += [n for n in required if n not in names]
        out = {}
        for n in names:
            sub = props.get(n, schema.get("additionalProperties", True))
            if sub is False:
                sub = True
            out[n] = schema_instance(sub, salt=salt, _root=root, _name=n, _depth=_depth + 1)
        extra = schema.get("additionalProperties", True)
        i = 0
        while len(out) < int(schema.get("minProperties", 0)) and extra is not False:
            out[f"extra{i}"] = schema_instance(
                extra, salt=salt, _root=root, _name=f"extra{i}", _depth=_depth + 1
            )
            i += 1
        return out
    if typ == "array":
        prefix = schema.get("prefixItems")
        items = schema.get("items", True)
        if isinstance(items, list):  # draft-4 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        out_list = [
            schema_instance(s, salt=salt, _root=root, _name=_name, _depth=_depth + 1, _index=i)
            for i, s in enumerate(prefix or [])
        ]
        want = int(schema.get("minItems", 0))
        if _depth <= _MAX_DEPTH and not prefix:
            want = max(want, 1)
        if "maxItems" in schema:
            want = min(want, int(schema["maxItems"]))
        if items is False:
            want = len(out_list)
        while len(out_list) < want:
            out_list.append(
                schema_instance(
                    items, salt=salt, _root=root, _name=_name, _depth=_depth + 1, _index=len(out_list)
                )
            )
        return out_list
    if typ == "string":
        return _string(schema, _name, salt, _index)
    if typ == "integer":
        return _number(schema, True, _index)
    if typ == "number":
        return _number(schema, False, _index)
    if typ == "boolean":
        return _index % 2 == 0
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
    408: ("timeout", None, "Request timed out."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}

_MALFORMED_BODY = (
    b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"index": 0, '
    b'"message": {"role": "assistant", "content": "this body is cut in the middle of a str'
)


_JSON_HEADERS = {"Content-Type": "application/json"}
_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
_MALFORMED_EVENTS = [
    b'data: {"id": "chatcmpl-malformed", "choices": [{"index": 0, "delta": {"content": "ok"\n\n',
    b"data: [DONE]\n\n",
]
_estr = json.encoder.encode_basestring_ascii  # a JSON string literal, ASCII-escaped (C speed)


def _render_completion(rid: str, created: int, model: str, choices: list, usage: dict) -> bytes:
    """The ``chat.completion`` body, serialised by a template (a few times faster than json.dumps
    of the equivalent dict; the tests check the two agree)."""
    parts = []
    for i, (content, reasoning, finish) in enumerate(choices):
        rc = "" if reasoning is None else f',"reasoning_content":{_estr(reasoning)}'
        parts.append(
            f'{{"index":{i},"message":{{"role":"assistant","content":{_estr(content)}{rc}}},'
            f'"logprobs":null,"finish_reason":{_estr(finish)}}}'
        )
    u = usage
    return (
        f'{{"id":{_estr(rid)},"object":"chat.completion","created":{created},"model":{_estr(model)},'
        f'"choices":[{",".join(parts)}],"usage":{{"prompt_tokens":{u["prompt_tokens"]},'
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
        "faults",
        "max_in_flight",
        "other",
        "per_hash",
        "per_prompt",
        "prompt_tokens",
        "rate_limited",
        "requests",
        "started",
        "status",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.status: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.rate_limited = 0
        self.per_hash: dict[str, int] = {}
        self.per_prompt: dict[str, int] = {}
        self.max_in_flight = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.other: dict[str, int] = {}
        self.bodies: list[dict] = []
        self.authorization: dict[str, int] = {}
        self.started = time.time()


class FakeTeacher:
    """The fake teacher server. See the module docstring for the protocol and the faults."""

    def __init__(self, config: FakeTeacherConfig | dict | None = None, **options: Any) -> None:
        if isinstance(config, dict):
            config = FakeTeacherConfig.from_dict(config)
        base = config or FakeTeacherConfig()
        self._initial_config = FakeTeacherConfig.from_dict(options, base) if options else base
        self.config = self._initial_config
        self._stats = _Stats()
        self._in_flight = 0
        self._rpm_window: deque[float] = deque()
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

    # ---- app -------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        r = app.router
        r.add_post("/v1/chat/completions", self._chat)
        r.add_post("/chat/completions", self._chat)
        r.add_get("/v1/models", self._models)
        r.add_get("/models", self._models)
        r.add_get("/health", self._health)
        r.add_get("/_stats", self._stats_route)
        r.add_post("/_reset", self._reset_route)
        r.add_get("/_config", self._config_route)
        r.add_post("/_config", self._config_route)
        return app

    async def start_async(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start listening on the running event loop; returns the base URL (``.../v1``)."""
        if self._runner is not None:
            raise RuntimeError("the fake teacher is already started")
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=0.25)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=2048)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        sockets = runner.addresses
        self.host, self.port = host, int(sockets[0][1])
        self._runner = runner
        self._loop = asyncio.get_running_loop()
        return self.base_url

    async def stop_async(self) -> None:
        """Stop listening and close every connection (in-flight requests are cut)."""
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
                loop.run_until_complete(self.start_async(host, port))
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
            asyncio.run_coroutine_threadsafe(self.stop_async(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def __enter__(self) -> FakeTeacher:
        if self._runner is None:
            self.start_in_thread()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    async def __aenter__(self) -> FakeTeacher:
        if self._runner is None:
            await self.start_async()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop_async()

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

    def reset(self, config: bool = False) -> None:
        """Clear the stats and attempt counters (and restore the start-up config if ``config``)."""
        self._on_loop(self._reset, config)

    def configure(self, **options: Any) -> FakeTeacherConfig:
        """Change config fields live (unknown names are an error); returns the new config."""
        return self._on_loop(self._configure, options)

    def set_script(self, rows: list[dict]) -> None:
        self.configure(script=rows)

    def _configure(self, options: dict) -> FakeTeacherConfig:
        new = FakeTeacherConfig.from_dict(options, self.config)
        if new.fault_seed != self.config.fault_seed:
            self._rng = random.Random(new.fault_seed)
        self.config = new
        return new

    def _reset(self, config: bool) -> None:
        self._stats = _Stats()
        self._rpm_window.clear()
        if config:
            self.config = self._initial_config
        self._rng = random.Random(self.config.fault_seed)

    def _snapshot(self, brief: bool = False) -> dict[str, Any]:
        s = self._stats
        out: dict[str, Any] = {
            "requests": s.requests,  # chat-completion requests received (all outcomes)
            "status": dict(s.status),  # "200"/"429"/.../"drop"/"cut"/"client_gone" -> count
            "faults": dict(s.faults),  # injected faults by kind (markers, rates, fail_all_with)
            "rate_limited": s.rate_limited,  # 429s from rpm_limit
            "unique_requests": len(s.per_hash),
            "duplicate_requests": s.requests - len(s.per_hash),  # re-sends of an identical request
            "in_flight": self._in_flight,
            "max_in_flight": s.max_in_flight,
            "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.completion_tokens,
            "other_requests": dict(s.other),
            "authorization": dict(s.authorization),  # Authorization header value -> count
            "uptime_s": time.time() - s.started,
        }
        if not brief:
            out["per_hash"] = dict(s.per_hash)  # request_hash(body) -> times received
            out["per_prompt"] = dict(s.per_prompt)  # last user message -> times received
        if self.config.record_bodies:
            out["bodies"] = list(s.bodies)
        return out

    # ---- routes ----------------------------------------------------------------------------

    def _count_other(self, request: web.Request) -> None:
        other = self._stats.other
        other[request.path] = other.get(request.path, 0) + 1

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _models(self, request: web.Request) -> web.Response:
        self._count_other(request)
        cfg = self.config
        names = cfg.models or [cfg.model or "fake-teacher"]
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": n, "object": "model", "created": 1700000000, "owned_by": "thoughtmill-fake"}
                    for n in names
                ],
            }
        )

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

    async def _config_route(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                data = await request.json()
                if not isinstance(data, dict):
                    raise ValueError("expected a JSON object of config fields")
                self._configure(data)
            except (ValueError, TypeError) as e:
                return web.json_response(
                    {"error": {"message": str(e), "type": "invalid_request_error"}}, status=400
                )
        return web.json_response(self.config.to_dict())

    # ---- chat completions -------------------------------------------------------------------

    def _record_status(self, status: str) -> None:
        st = self._stats.status
        st[status] = st.get(status, 0) + 1

    def _error(
        self,
        status: int,
        message: str | None = None,
        headers: dict | None = None,
        *,
        err_type: str | None = None,
        code: str | None = None,
    ) -> web.Response:
        typ, default_code, default_message = _ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}")
        )
        body = {
            "error": {
                "message": message or default_message,
                "type": err_type or typ,
                "param": None,
                "code": code if code is not None else default_code,
            }
        }
        self._record_status(str(status))
        return web.Response(
            status=status, body=_dumps(body).encode(), headers=headers, content_type="application/json"
        )

    def _rate_headers(self, cfg: FakeTeacherConfig, remaining: int, reset_s: float) -> dict[str, str]:
        limit = cfg.rpm_limit or 10000
        return {
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(max(0, remaining)),
            "x-ratelimit-reset-requests": _duration(reset_s),
            "x-ratelimit-limit-tokens": str(limit * 1000),
            "x-ratelimit-remaining-tokens": str(max(0, remaining) * 1000),
            "x-ratelimit-reset-tokens": _duration(reset_s),
        }

    def _error_429(self, cfg: FakeTeacherConfig, retry_after: float, remaining: int = 0) -> web.Response:
        headers = {
            "Retry-After": _seconds_header(retry_after),
            "retry-after-ms": str(round(retry_after * 1000)),
        }
        headers.update(self._rate_headers(cfg, remaining, retry_after))
        return self._error(429, None, headers)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        s = self._stats
        s.requests += 1
        self._in_flight += 1
        if self._in_flight > s.max_in_flight:
            s.max_in_flight = self._in_flight
        try:
            return await self._chat_inner(request, s)
        finally:
            self._in_flight -= 1

    async def _chat_inner(self, request: web.Request, s: _Stats) -> web.StreamResponse:
        cfg = self.config
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
        if cfg.models is not None and model not in cfg.models:
            return self._error(404, f"The model `{model}` does not exist or you do not have access to it.")

        rate_headers: dict[str, str] | None = None
        if cfg.rpm_limit is not None:
            now = time.monotonic()
            window = self._rpm_window
            while window and window[0] <= now - cfg.rpm_window_s:
                window.popleft()
            if len(window) >= cfg.rpm_limit:
                s.rate_limited += 1
                return self._error_429(cfg, max(0.001, window[0] + cfg.rpm_window_s - now))
            window.append(now)
            rate_headers = self._rate_headers(
                cfg, cfg.rpm_limit - len(window), window[0] + cfg.rpm_window_s - now
            )

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
        if kind is not None:
            s.faults[kind] = s.faults.get(kind, 0) + 1
        stream = bool(body.get("stream"))
        if kind is not None and kind not in ("truncated", "badjson", "cut"):
            if not await self._wait(request, latency):
                return web.Response(status=499)
            if kind == "drop":
                self._record_status("drop")
                transport = request.transport
                if transport is not None:
                    transport.close()
                return web.Response(status=204)
            if kind == "malformed":
                self._record_status("200")
                if stream:
                    return await self._send_stream(request, _SSE_HEADERS, _MALFORMED_EVENTS, None)
                return web.Response(status=200, body=_MALFORMED_BODY, headers=_JSON_HEADERS)
            status = int(kind)
            if status == 429:
                retry_after = cfg.retry_after_s
                if marker is not None and marker.option("retry_after") is not None:
                    retry_after = float(marker.option("retry_after"))
                return self._error_429(cfg, retry_after)
            return self._error(status)

        # ---- the answer: built before the latency, so only the write is left after it ---------
        n = body.get("n") or 1
        if not isinstance(n, int) or not 1 <= n <= 128:
            return self._error(400, "'n' must be an integer between 1 and 128.")
        self._seq += 1
        rid = f"chatcmpl-fake{self._seq:010d}{h[:8]}"
        choices = self._choices(cfg, body, ckey, last_user, attempt, n, kind)
        prompt_tokens = estimate_tokens("".join(_message_text(m.get("content")) for m in messages))
        reasoning_tokens = sum(estimate_tokens(c[1] or "") for c in choices)
        completion_tokens = sum(estimate_tokens(c[0]) for c in choices) + reasoning_tokens
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        }
        out_model = cfg.model or model
        created = int(time.time())
        if stream:
            events = self._stream_events(cfg, body, rid, created, out_model, choices, usage)
            headers = {**_SSE_HEADERS, **rate_headers} if rate_headers else _SSE_HEADERS
            if kind == "cut":
                events = events[: max(1, len(events) // 2)]
        else:
            payload = _render_completion(rid, created, out_model, choices, usage)
            headers = {**rate_headers, **_JSON_HEADERS} if rate_headers else _JSON_HEADERS

        if not await self._wait(request, latency):
            return web.Response(status=499)
        s.prompt_tokens += prompt_tokens
        s.completion_tokens += completion_tokens
        if stream:
            return await self._send_stream(request, headers, events, kind)
        if kind == "cut":
            self._record_status("cut")
            resp = web.StreamResponse(headers=headers)
            resp.content_length = len(payload)
            await resp.prepare(request)
            await resp.write(payload[: len(payload) // 2])
            transport = request.transport
            if transport is not None:
                transport.close()
            return resp
        self._record_status("200")
        return web.Response(body=payload, headers=headers)

    async def _wait(self, request: web.Request, latency_ms: float) -> bool:
        """Sleep the latency; False (and counted as ``client_gone``) if the client left meanwhile."""
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000.0)
            transport = request.transport
            if transport is None or transport.is_closing():
                self._record_status("client_gone")
                return False
        return True

    def _choices(
        self,
        cfg: FakeTeacherConfig,
        body: dict,
        ckey: str,
        last_user: str,
        attempt: int,
        n: int,
        kind: str | None,
    ) -> list[tuple[str, str | None, str]]:
        seed = body.get("seed")
        row = None
        for r in cfg.script:
            if r["match"] in last_user and (r.get("seed") is None or r["seed"] == seed):
                row = r
                break
        rf = body.get("response_format")
        rf_type = rf.get("type") if isinstance(rf, dict) else None
        schema = None
        if rf_type == "json_schema":
            js = rf.get("json_schema") or {}
            schema = js.get("schema", {}) if isinstance(js, dict) else {}
        budget = None
        if cfg.honor_max_tokens:
            budget = body.get("max_completion_tokens") or body.get("max_tokens")
            if not isinstance(budget, int) or budget <= 0:
                budget = None

        out = []
        for i in range(n):
            key = ckey if i == 0 else hashlib.blake2b(f"{ckey}:{i}".encode(), digest_size=16).hexdigest()
            reasoning = None
            finish = "stop"
            if row is not None:
                content = row["content"]
                if isinstance(content, list):
                    content = content[min(attempt, len(content)) - 1]
                reasoning = row.get("reasoning_content")
                finish = row.get("finish_reason") or "stop"
            elif rf_type == "json_schema":
                content = _dumps(schema_instance(schema, salt=key))
            elif rf_type == "json_object":
                content = _dumps({"answer": f"Answer {key[:16]}"})
            else:
                content = _text_from_key(key, "Answer", cfg.answer_bytes)
            if reasoning is None and cfg.reasoning:
                reasoning = _text_from_key(key[16:] + key[:16], "Reasoning", cfg.reasoning_bytes)
            if kind == "badjson":
                content = (
                    _dumps(_invalid_instance(schema)) if schema is not None else '{"answer": "not closed'
                )
            elif kind == "truncated":
                content = content[: len(content) // 2]
                finish = "length"
            if budget is not None:
                r_tok = estimate_tokens(reasoning or "")
                if r_tok >= budget and reasoning is not None:
                    reasoning, content, finish = reasoning[: budget * 4], "", "length"
                elif r_tok + estimate_tokens(content) > budget:
                    content, finish = content[: (budget - r_tok) * 4], "length"
            out.append((content, reasoning, finish))
        return out

    def _stream_events(
        self,
        cfg: FakeTeacherConfig,
        body: dict,
        rid: str,
        created: int,
        model: str,
        choices: list,
        usage: dict,
    ) -> list[bytes]:
        """The SSE events of a streamed reply, ``data: [DONE]`` included."""
        opts = body.get("stream_options")
        include_usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
        base = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake_teacher",
        }

        def event(chunk_choices: list, usage_value: Any = None) -> bytes:
            d = dict(base, choices=chunk_choices)
            if include_usage:
                d["usage"] = usage_value
            return b"data: " + _dumps(d).encode() + b"\n\n"

        def delta(i: int, d: dict, finish: str | None = None) -> bytes:
            return event([{"index": i, "delta": d, "logprobs": None, "finish_reason": finish}])

        step = cfg.stream_chunk_chars
        events = []
        for i, (content, reasoning, finish) in enumerate(choices):
            events.append(delta(i, {"role": "assistant", "content": ""}))
            for field_name, text in (("reasoning_content", reasoning), ("content", content)):
                for j in range(0, len(text or ""), step):
                    events.append(delta(i, {field_name: text[j : j + step]}))
            events.append(delta(i, {}, finish))
        if include_usage:
            events.append(event([], usage))
        events.append(b"data: [DONE]\n\n")
        return events

    async def _send_stream(
        self, request: web.Request, headers: dict, events: list[bytes], kind: str | None
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers=headers)
        try:
            await resp.prepare(request)
            for ev in events:
                await resp.write(ev)
            if kind != "cut":
                await resp.write_eof()
        except ConnectionResetError:  # the client went away mid-stream
            self._record_status("client_gone")
            return resp
        if kind == "cut":
            self._record_status("cut")
            transport = request.transport
            if transport is not None:
                transport.close()
        elif kind != "malformed":  # malformed is counted by the caller
            self._record_status("200")
        return resp


# --------------------------------------------------------------------------------------------
# HTTP control helpers (work for in-thread servers and subprocesses alike)
# --------------------------------------------------------------------------------------------


def _root(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _control(base_url: str, path: str, payload: Any = None, timeout: float = 30.0) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(
        _root(base_url) + path,
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


def configure_teacher(base_url: str, **options: Any) -> dict[str, Any]:
    """``POST /_config`` with these fields; returns the whole config."""
    return _control(base_url, "/_config", options)


# --------------------------------------------------------------------------------------------
# Subprocess mode
# --------------------------------------------------------------------------------------------


def start_fake_teacher_process(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    cpu: int | None = None,
    python: str | None = None,
    timeout: float = 30.0,
    stderr: Any = None,
    **options: Any,
) -> tuple[subprocess.Popen, str]:
    """Start ``python -m curation.testing.fake_teacher`` and wait for its READY line.

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
    cmd = [
        python or sys.executable,
        "-m",
        "thoughtmill.curation.testing.fake_teacher",
        "--host",
        host,
        "--port",
        str(port),
        "--config-json",
        config_json,
    ]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(import_root()), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, env=env)
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


class FakeTeacherProcess:
    """Context manager around :func:`start_fake_teacher_process`: ``.base_url``, ``.stats()``..."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def start(self) -> str:
        self.proc, self.base_url = start_fake_teacher_process(**self.options)
        return self.base_url

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        code = stop_fake_teacher_process(self.proc)
        self.proc = None
        return code

    def stats(self, brief: bool = False) -> dict[str, Any]:
        return fetch_stats(self.base_url, brief)

    def reset(self, config: bool = False) -> None:
        reset_teacher(self.base_url, config)

    def configure(self, **options: Any) -> dict[str, Any]:
        return configure_teacher(self.base_url, **options)

    def __enter__(self) -> FakeTeacherProcess:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m curation.testing.fake_teacher",
        description="Fake OpenAI-compatible teacher server. Prints 'READY <base_url>' once listening; SIGTERM stops it.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU core")
    p.add_argument("--config-json", default=None, help="config fields as a JSON object, or @FILE")
    p.add_argument("--latency-ms", type=float)
    p.add_argument("--jitter-ms", type=float)
    p.add_argument("--answer-bytes", type=int)
    p.add_argument("--reasoning", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--reasoning-bytes", type=int)
    p.add_argument("--model")
    p.add_argument("--rpm-limit", type=int)
    p.add_argument("--rpm-window-s", type=float)
    p.add_argument("--retry-after-s", type=float)
    p.add_argument("--fail-all-with")
    p.add_argument(
        "--fault-rate", action="append", default=[], metavar="KIND=RATE", help="repeatable, e.g. 429=0.1"
    )
    p.add_argument("--fault-seed", type=int)
    p.add_argument("--api-key")
    p.add_argument("--script", help="JSONL file of scripted answers")
    p.add_argument("--record-bodies", action="store_true", default=None)
    return p.parse_args(argv)


def _config_from_args(args: argparse.Namespace) -> FakeTeacherConfig:
    data: dict[str, Any] = {}
    if args.config_json:
        text = args.config_json
        if text.startswith("@"):
            text = Path(text[1:]).read_text(encoding="utf-8")
        data.update(json.loads(text))
    for name in (
        "latency_ms",
        "jitter_ms",
        "answer_bytes",
        "reasoning",
        "reasoning_bytes",
        "model",
        "rpm_limit",
        "rpm_window_s",
        "retry_after_s",
        "fail_all_with",
        "fault_seed",
        "api_key",
        "record_bodies",
    ):
        value = getattr(args, name)
        if value is not None:
            data[name] = value
    if args.fault_rate:
        rates = dict(data.get("fault_rate") or {})
        for item in args.fault_rate:
            kind, _, rate = item.partition("=")
            rates[kind] = float(rate)
        data["fault_rate"] = rates
    if args.script:
        data["script"] = load_script(args.script)
    return FakeTeacherConfig.from_dict(data)


async def _serve(config: FakeTeacherConfig, host: str, port: int) -> None:
    teacher = FakeTeacher(config)
    url = await teacher.start_async(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    import gc

    gc.freeze()  # long-lived start-up objects stay out of the collector's way
    sys.stdout.write(f"READY {url}\n")
    sys.stdout.flush()
    await stop.wait()
    await teacher.stop_async()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        config = _config_from_args(args)
    except (ValueError, OSError) as e:
        print(f"fake_teacher: {e}", file=sys.stderr)
        return 2
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    asyncio.run(_serve(config, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
