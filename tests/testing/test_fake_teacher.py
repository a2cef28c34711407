"""The fake teacher over real HTTP (aiohttp client against the server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import enum
import json
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from typing import Any, Literal

import aiohttp
import pytest
from pydantic import BaseModel, Field, ValidationError
from thoughtmill.curation.testing.fake_teacher import (
    FakeTeacher,
    FakeTeacherConfig,
    FakeTeacherProcess,
    _render_completion,
    configure_teacher,
    default_answer,
    default_reasoning,
    estimate_tokens,
    fetch_stats,
    parse_fault_markers,
    request_hash,
    reset_teacher,
    schema_instance,
    start_fake_teacher_process,
    stop_fake_teacher_process,
)

USER = "What is 2 + 2?"


def body(content: str = USER, **extra: Any) -> dict[str, Any]:
    return {
        "model": "fake-r1",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}],
        **extra,
    }


async def post(
    teacher: FakeTeacher | str, payload: Any, headers: dict | None = None, path: str = "/chat/completions"
) -> tuple[int, Any, bytes]:
    base = teacher if isinstance(teacher, str) else teacher.base_url
    async with aiohttp.ClientSession() as s, s.post(base + path, json=payload, headers=headers) as r:
        return r.status, r.headers, await r.read()


async def post_json(teacher: FakeTeacher | str, payload: Any, **kw: Any) -> tuple[int, Any, dict]:
    status, headers, raw = await post(teacher, payload, **kw)
    return status, headers, json.loads(raw)


def sse_events(raw: bytes) -> list[Any]:
    text = raw.decode()
    assert text.endswith("\n\n")
    events = []
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data: "), block
        data = block[len("data: ") :]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


# ---- wire format ----------------------------------------------------------------------------


async def test_completion_has_the_openai_wire_format(fake_teacher: FakeTeacher) -> None:
    status, headers, reply = await post_json(fake_teacher, body(max_tokens=4096))
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert set(reply) >= {"id", "object", "created", "model", "choices", "usage"}
    assert reply["object"] == "chat.completion"
    assert reply["id"].startswith("chatcmpl-")
    assert isinstance(reply["created"], int)
    assert reply["model"] == "fake-r1"  # echoed
    (choice,) = reply["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert "reasoning_content" not in choice["message"]  # reasoning is off by default
    content = choice["message"]["content"]
    assert len(content.encode()) == 2048
    usage = reply["usage"]
    assert usage["prompt_tokens"] == estimate_tokens("Be brief." + USER)
    assert usage["completion_tokens"] == estimate_tokens(content) == 512
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}


@pytest.mark.parametrize(
    "fake_teacher",
    [{"reasoning": True, "reasoning_bytes": 300, "answer_bytes": 100, "model": "deepseek-reasoner"}],
    indirect=True,
)
async def test_reasoning_content_and_model_name(fake_teacher: FakeTeacher) -> None:
    _, _, reply = await post_json(fake_teacher, body())
    message = reply["choices"][0]["message"]
    assert len(message["reasoning_content"]) == 300 and len(message["content"]) == 100
    assert reply["model"] == "deepseek-reasoner"
    assert reply["usage"]["completion_tokens_details"]["reasoning_tokens"] == 75
    assert reply["usage"]["completion_tokens"] == 75 + 25
    assert message["reasoning_content"] == default_reasoning(body()["messages"], reasoning_bytes=300)


async def test_answers_are_deterministic_and_differ_by_request(fake_teacher: FakeTeacher) -> None:
    async def content(**kw: Any) -> str:
        _, _, reply = await post_json(fake_teacher, body(**kw))
        return reply["choices"][0]["message"]["content"]

    a = await content()
    assert a == await content()
    assert a == default_answer(body()["messages"])
    assert a != await content(content="What is 3 + 3?")
    assert a != await content(seed=1)
    assert a != await content(temperature=0.5)
    assert await content(seed=1, temperature=0.5) == default_answer(body()["messages"], 1, 0.5)
    assert a.isascii()


async def test_alternative_paths_models_and_health(fake_teacher: FakeTeacher) -> None:
    status, _, _ = await post(fake_teacher.url, body(), path="/chat/completions")
    assert status == 200
    async with aiohttp.ClientSession() as s:
        async with s.get(fake_teacher.base_url + "/models") as r:
            models = await r.json()
        async with s.get(fake_teacher.url + "/health") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
    assert models["object"] == "list" and models["data"][0]["object"] == "model"


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"model": "m"},
        {"model": "m", "messages": []},
        {"messages": [{"role": "user", "content": "x"}]},
    ],
)
async def test_bad_requests_get_400_in_openai_error_format(fake_teacher: FakeTeacher, payload: Any) -> None:
    status, _, reply = await post_json(fake_teacher, payload)
    assert status == 400
    assert set(reply["error"]) == {"message", "type", "param", "code"}


async def test_n_choices_differ(fake_teacher: FakeTeacher) -> None:
    _, _, reply = await post_json(fake_teacher, body(n=3))
    contents = [c["message"]["content"] for c in reply["choices"]]
    assert [c["index"] for c in reply["choices"]] == [0, 1, 2]
    assert len(set(contents)) == 3 and contents[0] == default_answer(body()["messages"])


@pytest.mark.parametrize("fake_teacher", [{"reasoning": True, "reasoning_bytes": 100}], indirect=True)
async def test_max_tokens_cuts_with_finish_reason_length(fake_teacher: FakeTeacher) -> None:
    _, _, reply = await post_json(fake_teacher, body(max_tokens=30))
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "length"
    assert len(choice["message"]["reasoning_content"]) == 100  # 25 tokens
    assert len(choice["message"]["content"]) == 20  # the 5 tokens left
    assert reply["usage"]["completion_tokens"] == 30
    _, _, reply = await post_json(fake_teacher, body(max_tokens=10))
    assert reply["choices"][0]["message"]["content"] == ""


def test_template_rendering_matches_json_dumps() -> None:
    choices = [('é "quoted"\n\\', "why\t", "stop"), ("b", None, "length")]
    usage = {
        "prompt_tokens": 3,
        "completion_tokens": 5,
        "total_tokens": 8,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    rendered = json.loads(_render_completion("chatcmpl-x", 7, 'mo"del', choices, usage))
    expected = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 7,
        "model": 'mo"del',
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": choices[0][0], "reasoning_content": "why\t"},
                "logprobs": None,
                "finish_reason": "stop",
            },
            {
                "index": 1,
                "message": {"role": "assistant", "content": "b"},
                "logprobs": None,
                "finish_reason": "length",
            },
        ],
        "usage": usage,
        "system_fingerprint": "fp_fake_teacher",
    }
    assert rendered == expected


# ---- streaming ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fake_teacher", [{"reasoning": True, "reasoning_bytes": 700, "stream_chunk_chars": 128}], indirect=True
)
async def test_streaming_sse_matches_the_plain_reply(fake_teacher: FakeTeacher) -> None:
    _, _, plain = await post_json(fake_teacher, body())
    status, headers, raw = await post(fake_teacher, body(stream=True, stream_options={"include_usage": True}))
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks if c["choices"]
    )
    message = plain["choices"][0]["message"]
    assert content == message["content"] and reasoning == message["reasoning_content"]
    assert len([c for c in chunks if c["choices"] and "content" in c["choices"][0]["delta"]]) > 2
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == plain["usage"]
    assert all(c["usage"] is None for c in chunks[:-1])

    _, _, raw = await post(fake_teacher, body(stream=True))
    events = sse_events(raw)
    assert all("usage" not in e for e in events[:-1])
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    # a streamed request is the same request as the plain one (stream flags are not in the hash)
    assert fake_teacher.stats()["per_hash"][request_hash(body())] == 3


# ---- fault markers --------------------------------------------------------------------------


@pytest.mark.parametrize("fake_teacher", [{"retry_after_s": 0.25}], indirect=True)
async def test_429_marker_with_retry_after_and_ratelimit_headers(fake_teacher: FakeTeacher) -> None:
    payload = body(USER + " [[fault:429:2]]")
    for _ in range(2):
        status, headers, reply = await post_json(fake_teacher, payload)
        assert status == 429
        assert headers["Retry-After"] == "0.25" and headers["retry-after-ms"] == "250"
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert headers["x-ratelimit-reset-requests"] == "250ms"
        assert {"x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-reset-tokens"} <= set(
            headers
        )
        assert reply["error"]["code"] == "rate_limit_exceeded"
    status, _, _ = await post(fake_teacher, payload)
    assert status == 200
    status, headers, _ = await post(fake_teacher, body("other [[fault:429:1:retry_after=2]]"))
    assert status == 429 and headers["Retry-After"] == "2"
    stats = fake_teacher.stats()
    assert stats["status"] == {"429": 3, "200": 1}
    assert stats["faults"] == {"429": 3}
    assert stats["per_hash"][request_hash(payload)] == 3


@pytest.mark.parametrize("code", [400, 401, 403, 404, 500, 503])
async def test_http_error_markers(fake_teacher: FakeTeacher, code: int) -> None:
    payload = body(f"{USER} [[fault:{code}]]")
    status, headers, reply = await post_json(fake_teacher, payload)
    assert status == code and headers["Content-Type"].startswith("application/json")
    assert reply["error"]["message"] and "type" in reply["error"]
    status, _, _ = await post(fake_teacher, payload)  # count defaults to 1
    assert status == 200


async def test_marker_sequence_and_always(fake_teacher: FakeTeacher) -> None:
    payload = body(f"{USER} [[fault:429:1]][[fault:500:2]]")
    assert [(await post(fake_teacher, payload))[0] for _ in range(5)] == [429, 500, 500, 200, 200]
    payload = body(f"{USER} [[fault:401:*]]")
    assert [(await post(fake_teacher, payload))[0] for _ in range(3)] == [401, 401, 401]


async def test_unknown_marker_is_a_clear_400(fake_teacher: FakeTeacher) -> None:
    status, _, reply = await post_json(fake_teacher, body("[[fault:explode]]"))
    assert status == 400 and "unknown fault kind 'explode'" in reply["error"]["message"]
    with pytest.raises(ValueError, match="bad count"):
        parse_fault_markers("[[fault:500:many]]")


async def test_drop_closes_the_connection_without_a_response(fake_teacher: FakeTeacher) -> None:
    payload = body(f"{USER} [[fault:drop:2]]")
    async with aiohttp.ClientSession() as s:
        for _ in range(2):
            with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
                async with s.post(fake_teacher.base_url + "/chat/completions", json=payload) as r:
                    await r.read()
        async with s.post(fake_teacher.base_url + "/chat/completions", json=payload) as r:
            assert r.status == 200
    assert fake_teacher.stats()["status"] == {"drop": 2, "200": 1}


async def test_cut_closes_the_connection_mid_body(fake_teacher: FakeTeacher) -> None:
    async with aiohttp.ClientSession() as s:
        for payload in (body("[[fault:cut]]"), body("s [[fault:cut]]", stream=True)):
            with pytest.raises(aiohttp.ClientPayloadError):
                async with s.post(fake_teacher.base_url + "/chat/completions", json=payload) as r:
                    assert r.status == 200
                    await r.read()


async def test_malformed_body(fake_teacher: FakeTeacher) -> None:
    status, headers, raw = await post(fake_teacher, body("[[fault:malformed]]"))
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    status, _, raw = await post(fake_teacher, body("x [[fault:malformed]]", stream=True))
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        sse_events(raw)
    status, _, raw = await post(fake_teacher, body("[[fault:malformed]]"))
    assert status == 200 and json.loads(raw)["object"] == "chat.completion"


async def test_truncated_answer(fake_teacher: FakeTeacher) -> None:
    _, _, reply = await post_json(fake_teacher, body(f"{USER} [[fault:truncated]]"))
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "length" and len(choice["message"]["content"]) == 1024
    assert reply["usage"]["completion_tokens"] == 256
    _, _, reply = await post_json(fake_teacher, body(f"{USER} [[fault:truncated]]"))
    assert reply["choices"][0]["finish_reason"] == "stop"
    _, _, raw = await post(fake_teacher, body("s [[fault:truncated]]", stream=True))
    assert sse_events(raw)[-2]["choices"][0]["finish_reason"] == "length"


async def test_slow_marker_and_global_latency(fake_teacher: FakeTeacher) -> None:
    t = time.perf_counter()
    assert (await post(fake_teacher, body("[[fault:slow:200]]")))[0] == 200
    assert time.perf_counter() - t >= 0.2
    t = time.perf_counter()
    assert (await post(fake_teacher, body("[[fault:slow:300:1]]")))[0] == 200
    assert time.perf_counter() - t >= 0.3
    t = time.perf_counter()
    assert (await post(fake_teacher, body("[[fault:slow:300:1]]")))[0] == 200  # only the first is slow
    assert time.perf_counter() - t < 0.25
    fake_teacher.configure(latency_ms=100)
    t = time.perf_counter()
    statuses = await asyncio.gather(*(post(fake_teacher, body(f"q{i}")) for i in range(10)))
    elapsed = time.perf_counter() - t
    assert [s[0] for s in statuses] == [200] * 10
    assert 0.1 <= elapsed < 0.6  # concurrent, not serialised
    assert fake_teacher.stats()["max_in_flight"] == 10


async def test_a_client_that_gives_up_is_counted_not_logged(
    fake_teacher: FakeTeacher, caplog: pytest.LogCaptureFixture
) -> None:
    timeout = aiohttp.ClientTimeout(total=0.05)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        for i, stream in enumerate((False, True)):
            with pytest.raises(asyncio.TimeoutError):
                payload = body(f"q{i} [[fault:slow:150]]", stream=stream)
                async with s.post(fake_teacher.base_url + "/chat/completions", json=payload) as r:
                    await r.read()
    await asyncio.sleep(0.3)
    stats = fake_teacher.stats()
    assert stats["status"] == {"client_gone": 2} and stats["in_flight"] == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


# ---- global faults --------------------------------------------------------------------------


@pytest.mark.parametrize("fake_teacher", [{"fail_all_with": 401}], indirect=True)
async def test_fail_all_with(fake_teacher: FakeTeacher) -> None:
    for i in range(3):
        status, _, reply = await post_json(fake_teacher, body(f"q{i}"))
        assert status == 401 and reply["error"]["code"] == "invalid_api_key"
    fake_teacher.configure(fail_all_with="drop")
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await post(fake_teacher, body())
    fake_teacher.configure(fail_all_with=None)
    assert (await post(fake_teacher, body()))[0] == 200


async def test_fault_rates_are_seeded_and_reproducible(fake_teacher_factory: Any) -> None:
    config = {"fault_rate": {"500": 0.3, "429": 0.2}, "fault_seed": 7, "retry_after_s": 0.1}

    async def outcomes(teacher: FakeTeacher) -> list[int]:
        return [(await post(teacher, body(f"q{i % 20}")))[0] for i in range(60)]

    a, b = fake_teacher_factory(**config), fake_teacher_factory(**config)
    first = await outcomes(a)
    assert first == await outcomes(b)
    assert {200, 429, 500} <= set(first)
    assert 0.2 < first.count(200) / len(first) < 0.8
    c = fake_teacher_factory(**{**config, "fault_seed": 8})
    assert await outcomes(c) != first
    a.configure(fault_rate={"500": 1.0})
    assert [(await post(a, body(f"z{i}")))[0] for i in range(5)] == [500] * 5


@pytest.mark.parametrize("fake_teacher", [{"rpm_limit": 3, "rpm_window_s": 0.6}], indirect=True)
async def test_rpm_limit(fake_teacher: FakeTeacher) -> None:
    statuses = []
    for i in range(4):
        status, headers, _ = await post(fake_teacher, body(f"q{i}"))
        statuses.append(status)
    assert statuses == [200, 200, 200, 429]
    assert 0 < float(headers["Retry-After"]) <= 0.6
    assert headers["x-ratelimit-limit-requests"] == "3" and headers["x-ratelimit-remaining-requests"] == "0"
    await asyncio.sleep(float(headers["Retry-After"]) + 0.02)
    status, headers, _ = await post(fake_teacher, body("late"))
    assert status == 200 and headers["x-ratelimit-limit-requests"] == "3"
    stats = fake_teacher.stats()
    assert stats["rate_limited"] == 1 and stats["status"] == {"200": 4, "429": 1}


@pytest.mark.parametrize("fake_teacher", [{"api_key": "sk-right", "models": ["fake-r1"]}], indirect=True)
async def test_api_key_and_model_checks(fake_teacher: FakeTeacher) -> None:
    assert (await post(fake_teacher, body()))[0] == 401
    assert (await post(fake_teacher, body(), headers={"Authorization": "Bearer sk-wrong"}))[0] == 401
    ok = {"Authorization": "Bearer sk-right"}
    assert (await post(fake_teacher, body(), headers=ok))[0] == 200
    status, _, reply = await post_json(fake_teacher, {**body(), "model": "gpt-x"}, headers=ok)
    assert status == 404 and reply["error"]["code"] == "model_not_found"
    assert fake_teacher.stats()["authorization"] == {"": 1, "Bearer sk-wrong": 1, "Bearer sk-right": 2}


# ---- scripted answers -----------------------------------------------------------------------


async def test_scripted_answers(fake_teacher: FakeTeacher, tmp_path: Any) -> None:
    fake_teacher.set_script(
        [
            {"match": "capital of France", "seed": 2, "content": "Lyon?", "finish_reason": "length"},
            {"match": "capital of France", "content": "Paris", "reasoning_content": "It is Paris."},
            {"match": "capital", "content": "generic capital"},
            {"match": "retry me", "content": ["{bad", '{"ok": true}']},
        ]
    )
    _, _, reply = await post_json(fake_teacher, body("What is the capital of France?"))
    message = reply["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Paris", "reasoning_content": "It is Paris."}
    _, _, reply = await post_json(fake_teacher, body("What is the capital of France?", seed=2))
    assert reply["choices"][0]["message"]["content"] == "Lyon?"
    assert reply["choices"][0]["finish_reason"] == "length"
    _, _, reply = await post_json(fake_teacher, body("capital of Peru?"))
    assert reply["choices"][0]["message"]["content"] == "generic capital"
    # a list of contents: attempt k of the same request gets item k, the last one repeats
    got = [(await post_json(fake_teacher, body("please retry me")))[2] for _ in range(3)]
    assert [g["choices"][0]["message"]["content"] for g in got] == ["{bad", '{"ok": true}', '{"ok": true}']
    # a script wins over structured output, and markers still apply
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    _, _, reply = await post_json(fake_teacher, body("capital", response_format=rf))
    assert reply["choices"][0]["message"]["content"] == "generic capital"
    assert (await post(fake_teacher, body("capital [[fault:503]]")))[0] == 503

    # the same over the control route, and a bad script is refused with a clear message
    config = configure_teacher(fake_teacher.base_url, script=[{"match": "", "content": "everything"}])
    assert config["script"] == [{"match": "", "content": "everything"}]
    _, _, reply = await post_json(fake_teacher, body("anything"))
    assert reply["choices"][0]["message"]["content"] == "everything"
    async with aiohttp.ClientSession() as s:
        async with s.post(fake_teacher.url + "/_config", json={"script": [{"content": "no match"}]}) as r:
            assert r.status == 400 and "'match'" in (await r.json())["error"]["message"]
        async with s.post(fake_teacher.url + "/_config", json={"bogus": 1}) as r:
            assert r.status == 400 and "bogus" in (await r.json())["error"]["message"]


# ---- structured output ----------------------------------------------------------------------


class Color(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Step(BaseModel):
    explanation: str = Field(min_length=30)
    value: int = Field(ge=10, le=20)


class Node(BaseModel):
    name: str
    children: list[Node] = []


class Solution(BaseModel):
    steps: list[Step] = Field(min_length=2, max_length=4)
    final_answer: str
    confidence: float = Field(gt=0, lt=1)
    verdict: Literal["correct", "incorrect"]
    color: Color
    note: str | None = None
    tags: list[str]
    scores: dict[str, int]
    when: datetime
    tree: Node
    code: str = Field(pattern=r"^[0-9]+$")


def _json_schema_format(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": model.model_json_schema()},
    }


async def test_structured_output_is_valid_against_a_pydantic_schema(fake_teacher: FakeTeacher) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    rf = _json_schema_format(Solution)
    _, _, reply = await post_json(fake_teacher, body(response_format=rf))
    content = reply["choices"][0]["message"]["content"]
    solution = Solution.model_validate_json(content)
    assert len(solution.steps) == 2
    jsonschema.validate(json.loads(content), Solution.model_json_schema())
    _, _, other = await post_json(fake_teacher, body("another question", response_format=rf))
    assert other["choices"][0]["message"]["content"] != content  # strings are salted per request

    status, _, reply = await post_json(fake_teacher, body(f"{USER} [[fault:badjson]]", response_format=rf))
    assert status == 200
    bad = reply["choices"][0]["message"]["content"]
    json.loads(bad)  # parses...
    with pytest.raises(ValidationError):  # ...but is not valid against the schema
        Solution.model_validate_json(bad)
    _, _, reply = await post_json(fake_teacher, body(f"{USER} [[fault:badjson]]", response_format=rf))
    Solution.model_validate_json(reply["choices"][0]["message"]["content"])  # the retry is valid

    _, _, reply = await post_json(fake_teacher, body("[[fault:badjson]]"))  # no schema: not JSON at all
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply["choices"][0]["message"]["content"])


async def test_json_object_mode(fake_teacher: FakeTeacher) -> None:
    _, _, reply = await post_json(fake_teacher, body(response_format={"type": "json_object"}))
    assert isinstance(json.loads(reply["choices"][0]["message"]["content"]), dict)


def test_schema_instance_keywords() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = {
        "$defs": {"pos": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 3}},
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/pos"},
            "b": {
                "allOf": [
                    {
                        "type": "object",
                        "properties": {"x": {"type": "string", "maxLength": 3}},
                        "required": ["x"],
                    },
                    {"properties": {"y": {"type": "boolean"}}, "required": ["y"]},
                ]
            },
            "c": {"oneOf": [{"type": "null"}, {"type": "number", "minimum": 2.5, "maximum": 2.5}]},
            "d": {"const": "fixed"},
            "e": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
            "f": {"type": "array", "items": {"type": "string"}, "minItems": 3, "uniqueItems": True},
            "g": {"type": ["null", "number"], "exclusiveMaximum": -1},
            "h": {"type": "string", "pattern": "^[0-9]+$"},
            "i": {"type": "string", "minLength": 40, "format": "email"},
            "j": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "k": {"type": "integer", "minimum": -7, "maximum": -5},
            "l": {"enum": [3, "x"]},
            "m": {"type": "array", "items": {"type": "integer", "minimum": 5}, "maxItems": 0},
            "n": {"type": "object", "additionalProperties": {"type": "number"}, "minProperties": 2},
            "o": {"type": "null"},
        },
        "required": list("abcdefghijklmno"),
        "additionalProperties": False,
    }
    value = schema_instance(schema, salt="0123456789abcdef" * 2)
    jsonschema.validate(value, schema)
    assert value["a"] == 3 and value["c"] == 2.5 and value["k"] == -5 and value["m"] == []


# ---- stats, reset, control helpers ----------------------------------------------------------


async def test_stats_count_resends_and_record_bodies(fake_teacher: FakeTeacher) -> None:
    await post(fake_teacher, body("one"))
    await post(fake_teacher, body("two"))
    await post(fake_teacher, body("two"))
    stats = fake_teacher.stats()
    assert stats["requests"] == 3 and stats["unique_requests"] == 2 and stats["duplicate_requests"] == 1
    assert stats["per_prompt"] == {"one": 1, "two": 2}
    assert stats["per_hash"] == {request_hash(body("one")): 1, request_hash(body("two")): 2}
    assert "bodies" not in stats
    assert "per_hash" not in fake_teacher.stats(brief=True)
    assert stats["completion_tokens"] == 3 * 512

    fake_teacher.reset()
    fake_teacher.configure(record_bodies=True)
    await post(fake_teacher, body("three"), headers={"Authorization": "Bearer sk-abc"})
    stats = fetch_stats(fake_teacher.base_url)  # same thing over HTTP
    assert stats["requests"] == 1
    (recorded,) = stats["bodies"]
    assert recorded["body"] == body("three") and recorded["headers"]["Authorization"] == "Bearer sk-abc"
    assert recorded["hash"] == request_hash(body("three")) and recorded["attempt"] == 1

    reset_teacher(fake_teacher.base_url, config=True)
    assert fake_teacher.config.record_bodies is False
    assert fake_teacher.stats()["requests"] == 0


async def test_reset_restarts_attempt_counting(fake_teacher: FakeTeacher) -> None:
    payload = body("[[fault:500]]")
    assert (await post(fake_teacher, payload))[0] == 500
    fake_teacher.reset()
    assert (await post(fake_teacher, payload))[0] == 500


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="unknown fake-teacher option"):
        FakeTeacher(answer_size=3)
    with pytest.raises(ValueError, match="unknown fault kind"):
        FakeTeacherConfig(fault_rate={"boom": 0.1})
    with pytest.raises(ValueError, match="within"):
        FakeTeacherConfig(fault_rate={"500": 2})
    assert FakeTeacherConfig(fail_all_with=401).fail_all_with == "401"


# ---- ways to run ----------------------------------------------------------------------------


async def test_async_context_manager_on_the_callers_loop() -> None:
    async with FakeTeacher(answer_bytes=10) as teacher:
        _, _, reply = await post_json(teacher, body())
        assert len(reply["choices"][0]["message"]["content"]) == 10
        assert teacher.stats()["requests"] == 1


def test_thread_context_manager_and_restart_on_the_same_port() -> None:
    with FakeTeacher() as teacher:
        port = teacher.port
        assert asyncio.run(post(teacher, body()))[0] == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(post(teacher, body()))
    teacher.start_in_thread(port=port)
    try:
        assert asyncio.run(post(teacher, body()))[0] == 200
    finally:
        teacher.stop()


async def test_factory_replica_can_be_stopped(fake_teacher_factory: Any) -> None:
    a, b = fake_teacher_factory(answer_bytes=8), fake_teacher_factory(answer_bytes=8)
    assert a.port != b.port
    b.stop()
    assert (await post(a, body()))[0] == 200
    with pytest.raises(aiohttp.ClientConnectorError):
        await post(b, body())


async def test_subprocess_mode(tmp_path: Any) -> None:
    proc, base_url = start_fake_teacher_process(answer_bytes=64, reasoning=True, reasoning_bytes=32)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", base_url)
        _, _, reply = await post_json(base_url, body())
        assert len(reply["choices"][0]["message"]["content"]) == 64
        assert len(reply["choices"][0]["message"]["reasoning_content"]) == 32
        assert (await post(base_url, body("[[fault:429]]")))[0] == 429
        stats = fetch_stats(base_url)
        assert stats["requests"] == 2 and stats["status"] == {"200": 1, "429": 1}
    finally:
        assert stop_fake_teacher_process(proc) == 0

    with pytest.raises(ValueError, match="unknown fake-teacher option"):
        start_fake_teacher_process(bogus=1)


async def test_command_line_flags(tmp_path: Any) -> None:
    script = tmp_path / "script.jsonl"
    script.write_text(json.dumps({"match": "France", "content": "Paris"}) + "\n\n")
    cmd = [
        sys.executable,
        "-m",
        "thoughtmill.curation.testing.fake_teacher",
        "--port",
        "0",
        "--latency-ms",
        "0",
        "--answer-bytes",
        "16",
        "--script",
        str(script),
        "--model",
        "served-name",
        "--fault-rate",
        "500=0",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"READY http://127\.0\.0\.1:\d+/v1\n", line)
        base_url = line.split()[1]
        _, _, reply = await post_json(base_url, body("capital of France"))
        assert reply["choices"][0]["message"]["content"] == "Paris" and reply["model"] == "served-name"
        _, _, reply = await post_json(base_url, body())
        assert len(reply["choices"][0]["message"]["content"]) == 16
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_process_context_manager_controls() -> None:
    script = [{"match": f"needle {i}.", "content": f"hay {i}"} for i in range(3000)]  # > one argv item
    with FakeTeacherProcess(answer_bytes=8, script=script) as server:
        _, _, reply = asyncio.run(post_json(server.base_url, body("find needle 2999.")))
        assert reply["choices"][0]["message"]["content"] == "hay 2999"
        server.configure(fail_all_with=503)
        assert asyncio.run(post(server.base_url, body()))[0] == 503
        assert server.stats(brief=True)["status"] == {"200": 1, "503": 1}
        server.reset()
        assert server.stats()["requests"] == 0
