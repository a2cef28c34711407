"""The native Anthropic provider against a local server speaking the Messages API wire format:
x-api-key and anthropic-version, thinking blocks as the reasoning trace, usage with prompt-caching
prices, its rate-limit headers and 429/529 with retry-after pausing every request, 401 stopping the run."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from thoughtmill.curation.engine import TeacherConfig
from thoughtmill.curation.engine.backends.anthropic import AnthropicSettings, limiter_headers, messages_body
from thoughtmill.curation.engine.ratelimit import RateLimiter
from thoughtmill.curation.engine.request import Request
from thoughtmill.curation.errors import AuthenticationError

from tests.support.fake_anthropic import FakeAnthropic

from .test_engine_http import Solve as EngineSolve

KEY = "sk-ant-test-SECRET-9876543210"


class Solve(EngineSolve):
    system_prompt = "Think step by step."


def teacher(server: FakeAnthropic, **overrides) -> TeacherConfig:
    data = {
        "provider": "anthropic",
        "model": "claude-test",
        "base_url": server.url,
        "api_key_env": "FAKE_ANTHROPIC_KEY",
        "generation": {"max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        "max_concurrency": 8,
        "timeout_s": 10,
        "retry": {"max_attempts": 4, "backoff_initial_s": 0.01, "backoff_max_s": 0.05},
        "pricing": {
            "input_per_million": 3.0,
            "output_per_million": 15.0,
            "cached_input_per_million": 0.3,
            "cache_write_input_per_million": 3.75,
        },
        **overrides,
    }
    return TeacherConfig.from_dict(data)


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", KEY)
    return KEY


@pytest.fixture
def server():
    with FakeAnthropic(KEY, cache_read=100, cache_write=40, retry_after=0.3) as fake:
        yield fake


def rows(n: int, tag: str = "") -> list[dict]:
    return [{"id": i, "problem": f"problem {i}{tag}"} for i in range(n)]


def assert_key_nowhere(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_thinking_is_the_reasoning_trace_and_usage_is_priced_with_prompt_caching(server, key, tmp_path):
    llm = Solve(teacher(server), working_dir=tmp_path, progress=False)
    out = llm(rows(6))
    assert out["id"] == list(range(6))
    assert all(a.startswith("answer ") for a in out["answer"])
    assert out["thinking"][2] == "Let me think about 'problem 2'."
    assert set(out["finish"]) == {"stop"}
    assert server.stats["api_keys"] == {KEY: 6}  # x-api-key on every call (anthropic-version too, or 400)
    stats = llm.stats
    assert server.stats["messages"] == 6
    uncached = stats["prompt_tokens"] - 6 * (100 + 40)
    expected = (uncached * 3.0 + 6 * 100 * 0.3 + 6 * 40 * 3.75 + stats["completion_tokens"] * 15.0) / 1e6
    assert stats["completion_tokens"] == 6 * 16
    assert stats["cost_usd"] == pytest.approx(expected)
    assert_key_nowhere(tmp_path)
    # re-run from the cache: nothing paid, and what the answers cost still counts the cache writes
    again = Solve(teacher(server), working_dir=tmp_path, progress=False)
    again(rows(6))
    assert server.stats["messages"] == 6
    assert again.stats["cost_usd"] == 0
    assert again.stats["total_cost_usd"] == pytest.approx(expected)


def test_max_tokens_stop_reason_is_a_cut_answer(server, key, tmp_path):
    out = Solve(teacher(server), working_dir=tmp_path, progress=False)([{"id": 0, "problem": "long [[cut]]"}])
    assert out["finish"] == ["length"]


@pytest.mark.parametrize("status", [429, 529])
def test_429_and_529_pause_every_request_for_retry_after_then_succeed(key, tmp_path, status):
    with FakeAnthropic(KEY, faults={"slow down": [status]}, retry_after=0.4) as server:
        llm = Solve(teacher(server), working_dir=tmp_path, progress=False)
        started = time.monotonic()
        out = llm([{"id": 0, "problem": "slow down please"}])
        elapsed = time.monotonic() - started
        assert out["answer"][0].startswith("answer ")
        assert server.stats["status"][status] == 1 and server.stats["status"][200] == 1
        assert llm.stats["rate_limited"] == 1 and llm.stats["retries"] == 1
        assert elapsed >= 0.4  # the retry waited for retry-after, not the 10 ms backoff


def test_a_refused_key_stops_the_run_naming_the_variable(key, tmp_path, monkeypatch):
    with FakeAnthropic("another-key") as server:
        with pytest.raises(AuthenticationError, match="FAKE_ANTHROPIC_KEY"):
            Solve(teacher(server), working_dir=tmp_path, progress=False)(rows(20))
        assert server.stats["status"][401] >= 1
    assert_key_nowhere(tmp_path)


def test_rate_limit_headers_feed_the_limiter():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    reset = (now + timedelta(seconds=12)).isoformat().replace("+00:00", "Z")
    headers = {
        "Anthropic-RateLimit-Requests-Remaining": "0",
        "anthropic-ratelimit-requests-reset": reset,
        "anthropic-ratelimit-input-tokens-remaining": "500",
        "anthropic-ratelimit-input-tokens-reset": reset,
        "anthropic-ratelimit-output-tokens-remaining": "80",
        "anthropic-ratelimit-output-tokens-reset": reset,
        "retry-after": "7",
    }
    translated = limiter_headers(headers, now)
    assert translated == {
        "retry-after": "7",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "12.000",
        "x-ratelimit-remaining-tokens": "80",
        "x-ratelimit-reset-tokens": "12.000",
    }
    limiter = RateLimiter(4)
    limiter.observe_headers(limiter_headers({**headers, "anthropic-ratelimit-requests-reset": _in(30)}))
    assert limiter.cooldowns == 1


def _in(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def test_messages_body_moves_system_out_and_renames_openai_keys():
    request = Request(
        model="claude-test",
        messages=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}),
        params={"temperature": 0.5, "stop": ["END"], "seed": 3},
    )
    body = messages_body(request, AnthropicSettings())
    assert body == {
        "model": "claude-test",
        "messages": [{"role": "user", "content": "Hi"}],
        "system": "Be brief.",
        "temperature": 0.5,
        "stop_sequences": ["END"],
        "max_tokens": 4096,
    }


def test_the_bundled_teacher_config_loads():
    from thoughtmill.curation.engine.config import load_teacher

    claude = load_teacher("anthropic-claude-sonnet")
    assert claude.provider == "anthropic" and claude.settings.api_key_env == "ANTHROPIC_API_KEY"
    assert claude.pricing.cache_write_input_per_million == 3.75
