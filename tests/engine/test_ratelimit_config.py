"""Rate-limit arithmetic, header parsing, and teacher configs from YAML."""

from __future__ import annotations

import asyncio
import time

import pytest
from thoughtmill.curation.engine.config import TeacherConfig, load_teacher
from thoughtmill.curation.engine.ratelimit import (
    RateLimiter,
    TokenBucket,
    parse_duration,
    retry_after_seconds,
)
from thoughtmill.curation.engine.tokens import TokenEstimator
from thoughtmill.curation.errors import ConfigError


def test_parse_duration_openai_style():
    assert parse_duration("1s") == 1.0
    assert parse_duration("6m0s") == 360.0
    assert parse_duration("20ms") == pytest.approx(0.02)
    assert parse_duration("1h2m3.5s") == pytest.approx(3723.5)
    assert parse_duration("2.5") == 2.5


def test_retry_after_sources():
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "7s"}) == 7.0
    assert retry_after_seconds({}) is None


async def test_token_bucket_waits_for_refill():
    bucket = TokenBucket(per_minute=600)  # 10/s, holds 100
    await bucket.acquire(100)
    started = time.monotonic()
    await bucket.acquire(5)
    assert 0.4 <= time.monotonic() - started < 1.0


async def test_refund_returns_unused_reservation():
    bucket = TokenBucket(per_minute=60_000)  # 1000/s, holds 10000
    await bucket.acquire(10_000)
    bucket.refund(9_000)
    started = time.monotonic()
    await bucket.acquire(8_000)
    assert time.monotonic() - started < 0.2


async def test_requests_per_minute_caps_the_rate():
    limiter = RateLimiter(max_concurrency=100, requests_per_minute=1200)  # 20/s, burst 200
    started = time.monotonic()
    for _ in range(220):
        limiter.release(await limiter.acquire(0), None)
    assert 0.8 <= time.monotonic() - started < 2.0


async def test_cool_down_pauses_every_acquirer():
    limiter = RateLimiter(max_concurrency=4)
    limiter.cool_down(0.3)
    started = time.monotonic()
    permits = await asyncio.gather(*(limiter.acquire(1) for _ in range(3)))
    assert time.monotonic() - started >= 0.29
    for p in permits:
        limiter.release(p, None)


async def test_exhausted_quota_header_triggers_a_pause():
    limiter = RateLimiter(max_concurrency=4)
    limiter.observe_headers({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "250ms"})
    started = time.monotonic()
    limiter.release(await limiter.acquire(1), None)
    assert time.monotonic() - started >= 0.24


def test_concurrency_cap_holds():
    async def run() -> int:
        limiter = RateLimiter(max_concurrency=3)
        active = peak = 0

        async def one() -> None:
            nonlocal active, peak
            permit = await limiter.acquire(1)
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1
            limiter.release(permit, None)

        await asyncio.gather(*(one() for _ in range(20)))
        return peak

    assert asyncio.run(run()) == 3


def test_heuristic_token_estimate_is_documented_ratio():
    est = TokenEstimator()
    assert est.prompt_tokens([{"role": "user", "content": "x" * 300}]) == 100 + 4
    assert est.request_tokens([{"role": "user", "content": "x" * 30}], {"max_tokens": 1000}) == 1014


def test_bundled_teachers_load_and_swap_by_name():
    r1 = load_teacher("deepseek-r1")
    assert r1.model == "deepseek-reasoner" and r1.settings.api_key_env == "DEEPSEEK_API_KEY"
    assert load_teacher("local-vllm-server").cache_namespace
    assert load_teacher("vllm-offline").provider == "vllm"


def test_yaml_with_overrides(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("provider: openai\nmodel: m\nbase_urls: [http://h/v1/]\ngeneration: {temperature: 0.6}\n")
    teacher = TeacherConfig.from_yaml(path, {"generation.temperature": 0.2, "max_concurrency": 5})
    assert teacher.generation == {"temperature": 0.2} and teacher.max_concurrency == 5
    assert teacher.settings.base_urls == ["http://h/v1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("provider: openai\nmodel: m\nbase_urls: [x]\nmax_concurency: 3\n", "max_concurency: unknown key"),
        ("provider: openai\nbase_urls: [x]\n", "model: required field is missing"),
        ("provider: openai\nmodel: m\n", "needs base_urls"),
        ("provider: replay\nmodel: m\n", "needs a 'replay:' section"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_bad_configs_name_the_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        TeacherConfig.from_yaml(path)


def test_unknown_teacher_name_lists_the_bundled_ones():
    with pytest.raises(ConfigError, match="deepseek-r1"):
        load_teacher("no-such-teacher")


def test_provider_keys_live_in_settings_and_dump_flat():
    offline = TeacherConfig.from_dict({"provider": "vllm", "model": "m", "vllm": {"max_model_len": 512}})
    assert offline.settings.vllm == {"max_model_len": 512} and offline.settings.data_parallel_size == 1
    assert offline.endpoint_identity() == 'vllm:{"max_model_len": 512}'  # unchanged: old caches stay valid
    # the whole text as the answer changes what is cached; the number of engines does not
    whole = TeacherConfig.from_dict({**offline.model_dump(), "split_think": False, "data_parallel_size": 2})
    assert whole.endpoint_identity() == offline.endpoint_identity() + ":whole-text"
    dumped = load_teacher("deepseek-r1").model_dump()
    assert dumped["base_urls"] == ["https://api.deepseek.com/v1"] and "settings" not in dumped
    assert TeacherConfig.from_dict(dumped) == load_teacher("deepseek-r1")


def test_a_key_of_another_provider_is_named_with_the_providers_keys():
    with pytest.raises(
        ConfigError, match=r"base_urls: unknown key .*provider 'vllm' takes vllm, data_parallel_size"
    ):
        TeacherConfig.from_dict({"provider": "vllm", "model": "m", "base_urls": ["http://h/v1"]})
    with pytest.raises(
        ConfigError, match=r"provider: unknown provider 'vlm' \(known providers: anthropic, openai, replay, vllm"
    ):
        TeacherConfig.from_dict({"provider": "vlm", "model": "m"})
