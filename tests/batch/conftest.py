"""Fixtures for the batch tests: fake OpenAI / Anthropic batch servers on 127.0.0.1, teachers for them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from thoughtmill.curation.engine import LLM, TeacherConfig
from thoughtmill.curation.engine.batch.flow import BatchFlow, BatchOutcome
from thoughtmill.curation.engine.cache import ResponseCache
from thoughtmill.curation.engine.progress import RunStats

from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_batch_openai import FakeBatchOpenAI

KEY = "sk-batch-test-SECRET-55aa77"
KEY_ENV = "FAKE_BATCH_KEY"
FAST = {"poll_interval_s": 0.02}


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


@pytest.fixture
def openai_server() -> Iterator[FakeBatchOpenAI]:
    with FakeBatchOpenAI(KEY) as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(KEY, polls_to_end=2) as server:
        yield server


def openai_teacher(server: FakeBatchOpenAI, **batch: Any) -> TeacherConfig:
    return TeacherConfig.from_dict(
        {
            "provider": "openai",
            "model": "gpt-test",
            "base_urls": [server.base_url],
            "api_key_env": KEY_ENV,
            "generation": {"temperature": 0.0, "max_tokens": 256},
            "mode": "batch",
            "batch": {**FAST, **batch},
            "timeout_s": 10,
            "retry": {"max_attempts": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.05},
            "pricing": {"input_per_million": 2.0, "output_per_million": 8.0},
        }
    )


def anthropic_teacher(server: FakeAnthropic, **batch: Any) -> TeacherConfig:
    return TeacherConfig.from_dict(
        {
            "provider": "anthropic",
            "model": "claude-test",
            "base_url": server.url,
            "api_key_env": KEY_ENV,
            "generation": {"max_tokens": 512, "thinking": {"type": "enabled", "budget_tokens": 256}},
            "mode": "batch",
            "batch": {**FAST, **batch},
            "timeout_s": 10,
            "retry": {"max_attempts": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.05},
            "pricing": {"input_per_million": 3.0, "output_per_million": 15.0},
        }
    )


class Solve(LLM):
    def prompt(self, row: dict[str, Any]) -> str:
        return row["problem"]

    def parse(self, row: dict[str, Any], response: Any) -> dict[str, Any]:
        return {"id": row["id"], "answer": response.content, "thinking": response.reasoning_content}


def problems(n: int, marked: dict[int, str] | None = None) -> list[dict[str, Any]]:
    marked = marked or {}
    return [{"id": i, "problem": f"problem {i} {marked.get(i, '')}".strip()} for i in range(n)]


def run_flow(
    teacher: TeacherConfig, rows: list[dict[str, Any]], working_dir: Path
) -> tuple[BatchOutcome, RunStats]:
    """The batch phase alone, as a run of ``Solve`` in ``working_dir`` would do it."""
    llm = Solve(teacher, working_dir=working_dir, progress=False)
    stats = RunStats()
    with ResponseCache(working_dir / "cache") as cache:
        flow = BatchFlow(teacher, cache, working_dir / "runs" / "Solve", stats)
        requests = [llm.build_request(i, row) for i, row in enumerate(rows)]
        outcome = asyncio.run(flow.run(requests))
    return outcome, stats


def assert_key_nowhere(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"the API key is written in {path}"
