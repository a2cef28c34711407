"""The fake teacher over real HTTP (aiohttp client against the server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import enum
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any, Literal

import aiohttp
import pytest
from pydantic import BaseModel, Field, ValidationError

from tests.support.fake_teacher import (
    REPO_ROOT,
    FakeTeacher,
    FakeTeacherConfig,
    estimate_tokens,
    fetch_stats,
    parse_fault_markers,
    render_completion,
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
    teacher: FakeTeacher | str, payload: Any, headers: dict | None = None
) -> tuple[int, Any, bytes]:
    base = teacher if isinstance(teacher, str) else teacher.base_url
    async with (
        aiohttp.ClientSession() as s,
        s.post(base + "/chat/completions", json=payload, headers=headers) as r,
    ):
        return r.status, r.headers, await r.read()


async def post_json(teacher: FakeTeacher | str, payload: Any, **kw: Any) -> tuple[int, Any, dict]:
    status, headers, raw = await post(teacher, payload, **kw)
    return status, headers, json.loads(raw)


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
    "fake_teacher", [{"reasoning": True, "reasoning_bytes": 300, "answer_bytes": 100}], indirect=True
)
async def test_reasoning_content(fake_teacher: FakeTeacher) -> None:
    _, _, reply = await post_json(fake_teacher, body())
    message = reply["choices"][0]["message"]
    assert len(message["reasoning_content"]) == 300 and len(message["content"]) == 100
    assert message["reasoning_content"] != message["content"][:300]
    assert reply["usage"]["completion_tokens_details"]["reasoning_tokens"] == 75
    assert reply["usage"]["completion_tokens"] == 75 + 25


async def test_answers_are_deterministic_and_differ_by_request(fake_teacher: FakeTeacher) -> None:
    async def content(**kw: Any) -> str:
        _, _, reply = await post_json(fake_teacher, body(**kw))
        return reply["choices"][0]["message"]["content"]

    a = await content()
    assert a == await content()
    assert a != await content(content="What is 3 + 3?")
    assert a != await content(seed=1)
    assert a != await content(temperature=0.5)
    assert await content(seed=1, temperature=0.5) == await content(seed=1, temperature=0.5)
    assert a.isascii()


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


def test_template_rendering_matches_json_dumps() -> None:
    usage = {
        "prompt_tokens": 3,
        "completion_tokens": 5,
        "total_tokens": 8,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    for reasoning in ("why\t", None):
        content = 'é "quoted"\n\\'
        rendered = json.loads(render_completion("chatcmpl-x", 7, 'mo"del', content, reasoning, "stop", usage))
        message = {"role": "assistant", "content": content}
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        assert rendered == {
            "id": "chatcmpl-x",
            "object": "chat.completion",
            "created": 7,
            "model": 'mo"del',
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": usage,
            "system_fingerprint": "fp_fake_teacher",
        }


# ---- fault markers --------------------------------------------------------------------------


async def test_429_marker_with_retry_after_and_ratelimit_headers(fake_teacher: FakeTeacher) -> None:
    payload = body(USER + " [[fault:429:2:retry_after=0.25]]")
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
    status, headers, _ = await post(fake_teacher, body("other [[fault:429:1]]"))
    assert status == 429 and headers["Retry-After"] == "1"
    stats = fake_teacher.stats()
    assert stats["status"] == {"429": 3, "200": 1}
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
        with pytest.raises(aiohttp.ClientPayloadError):
            async with s.post(fake_teacher.base_url + "/chat/completions", json=body("[[fault:cut]]")) as r:
                assert r.status == 200
                await r.read()


async def test_malformed_body(fake_teacher: FakeTeacher) -> None:
    status, headers, raw = await post(fake_teacher, body("[[fault:malformed]]"))
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    status, _, raw = await post(fake_teacher, body("[[fault:malformed]]"))
    assert status == 200 and json.loads(raw)["object"] == "chat.completion"


async def test_truncated_answer(fake_teacher: FakeTeacher) -> None:
    _, _, reply = await post_json(fake_teacher, body(f"{USER} [[fault:truncated]]"))
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "length" and len(choice["message"]["content"]) == 1024
    assert reply["usage"]["completion_tokens"] == 256
    _, _, reply = await post_json(fake_teacher, body(f"{USER} [[fault:truncated]]"))
    assert reply["choices"][0]["finish_reason"] == "stop"


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


async def test_a_client_that_gives_up_is_counted_not_logged(
    fake_teacher: FakeTeacher, caplog: pytest.LogCaptureFixture
) -> None:
    timeout = aiohttp.ClientTimeout(total=0.05)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        with pytest.raises(asyncio.TimeoutError):
            payload = body("q [[fault:slow:150]]")
            async with s.post(fake_teacher.base_url + "/chat/completions", json=payload) as r:
                await r.read()
    await asyncio.sleep(0.3)
    assert fake_teacher.stats()["status"] == {"client_gone": 1}
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
    config = {"fault_rate": {"500": 0.3, "503": 0.2}, "fault_seed": 7}

    async def outcomes(teacher: FakeTeacher) -> list[int]:
        return [(await post(teacher, body(f"q{i % 20}")))[0] for i in range(60)]

    a, b = fake_teacher_factory(**config), fake_teacher_factory(**config)
    first = await outcomes(a)
    assert first == await outcomes(b)
    assert {200, 503, 500} <= set(first)
    assert 0.2 < first.count(200) / len(first) < 0.8
    c = fake_teacher_factory(**{**config, "fault_seed": 8})
    assert await outcomes(c) != first
    a.configure(fault_rate={"500": 1.0})
    assert [(await post(a, body(f"z{i}")))[0] for i in range(5)] == [500] * 5


@pytest.mark.parametrize("fake_teacher", [{"api_key": "sk-right"}], indirect=True)
async def test_api_key_check(fake_teacher: FakeTeacher) -> None:
    assert (await post(fake_teacher, body()))[0] == 401
    assert (await post(fake_teacher, body(), headers={"Authorization": "Bearer sk-wrong"}))[0] == 401
    assert (await post(fake_teacher, body(), headers={"Authorization": "Bearer sk-right"}))[0] == 200
    assert fake_teacher.stats()["authorization"] == {"": 1, "Bearer sk-wrong": 1, "Bearer sk-right": 1}


# ---- scripted answers -----------------------------------------------------------------------


async def test_scripted_answers(fake_teacher: FakeTeacher) -> None:
    fake_teacher.configure(
        script=[
            {"match": "capital of France", "seed": 2, "content": "Lyon?"},
            {"match": "capital of France", "content": "Paris", "reasoning_content": "It is Paris."},
            {"match": "capital", "content": "generic capital"},
        ]
    )
    _, _, reply = await post_json(fake_teacher, body("What is the capital of France?"))
    message = reply["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Paris", "reasoning_content": "It is Paris."}
    _, _, reply = await post_json(fake_teacher, body("What is the capital of France?", seed=2))
    assert reply["choices"][0]["message"]["content"] == "Lyon?"
    _, _, reply = await post_json(fake_teacher, body("capital of Peru?"))
    assert reply["choices"][0]["message"]["content"] == "generic capital"
    # a script wins over structured output, and markers still apply
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    _, _, reply = await post_json(fake_teacher, body("capital", response_format=rf))
    assert reply["choices"][0]["message"]["content"] == "generic capital"
    assert (await post(fake_teacher, body("capital [[fault:503]]")))[0] == 503
    with pytest.raises(ValueError, match="'match'"):
        fake_teacher.configure(script=[{"content": "no match"}])


# ---- structured output ----------------------------------------------------------------------


class Color(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Step(BaseModel):
    explanation: str
    value: int = Field(ge=10, le=20)


class Solution(BaseModel):
    steps: list[Step] = Field(min_length=2, max_length=4)
    final_answer: str
    confidence: float = Field(ge=0, le=1)
    verdict: Literal["correct", "incorrect"]
    color: Color
    note: str | None = None
    scores: dict[str, int]


def _json_schema_format(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": model.model_json_schema()},
    }


async def test_structured_output_is_valid_against_a_pydantic_schema(fake_teacher: FakeTeacher) -> None:
    rf = _json_schema_format(Solution)
    _, _, reply = await post_json(fake_teacher, body(response_format=rf))
    content = reply["choices"][0]["message"]["content"]
    solution = Solution.model_validate_json(content)
    assert len(solution.steps) == 2
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


def test_schema_instance_of_a_recursive_schema_terminates() -> None:
    schema = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
        "$ref": "#/$defs/Node",
    }
    assert isinstance(schema_instance(schema), dict)


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

    reset_teacher(fake_teacher.base_url)
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
    reset_teacher(fake_teacher.base_url)
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


async def test_subprocess_mode_with_a_script_longer_than_one_argument() -> None:
    script = [{"match": f"needle {i}.", "content": f"hay {i}"} for i in range(3000)]  # > one argv item
    proc, base_url = start_fake_teacher_process(
        answer_bytes=64, reasoning=True, reasoning_bytes=32, script=script
    )
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", base_url)
        _, _, reply = await post_json(base_url, body())
        assert len(reply["choices"][0]["message"]["content"]) == 64
        assert len(reply["choices"][0]["message"]["reasoning_content"]) == 32
        _, _, reply = await post_json(base_url, body("find needle 2999."))
        assert reply["choices"][0]["message"]["content"] == "hay 2999"
        assert (await post(base_url, body("[[fault:429]]")))[0] == 429
        stats = fetch_stats(base_url)
        assert stats["requests"] == 3 and stats["status"] == {"200": 2, "429": 1}
    finally:
        assert stop_fake_teacher_process(proc) == 0

    with pytest.raises(ValueError, match="unknown fake-teacher option"):
        start_fake_teacher_process(bogus=1)


async def test_python_dash_m_with_the_repository_root_on_pythonpath(tmp_path: Any) -> None:
    """Nothing installed is needed: the module runs from a checkout, from any working directory."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    config = json.dumps({"answer_bytes": 16, "script": [{"match": "France", "content": "Paris"}]})
    cmd = [sys.executable, "-m", "tests.support.fake_teacher", "--port", "0", "--config-json", config]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"READY http://127\.0\.0\.1:\d+/v1\n", line)
        base_url = line.split()[1]
        _, _, reply = await post_json(base_url, body("capital of France"))
        assert reply["choices"][0]["message"]["content"] == "Paris"
        _, _, reply = await post_json(base_url, body())
        assert len(reply["choices"][0]["message"]["content"]) == 16
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
