"""Fixtures for the engine tests: a real fake teacher on 127.0.0.1 and teacher configs for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from thoughtmill.curation.engine import TeacherConfig

from tests.support.fake_teacher import FakeTeacher

API_KEY = "sk-test-SECRET-0123456789"


@pytest.fixture
def server() -> Iterator[FakeTeacher]:
    teacher = FakeTeacher(answer_bytes=300, reasoning=True, reasoning_bytes=200, api_key=API_KEY)
    teacher.start_in_thread()
    yield teacher
    teacher.stop()


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FAKE_TEACHER_KEY", API_KEY)
    return API_KEY


def teacher_for(*servers: FakeTeacher, **overrides: Any) -> TeacherConfig:
    """A teacher config pointing at fake servers, with fast retries for tests."""
    data: dict[str, Any] = {
        "name": "fake",
        "provider": "openai",
        "model": "fake-r1",
        "base_urls": [s.base_url for s in servers],
        "api_key_env": "FAKE_TEACHER_KEY",
        "generation": {"temperature": 0.7, "max_tokens": 4096},
        "max_concurrency": 16,
        "timeout_s": 10,
        "retry": {"max_attempts": 4, "backoff_initial_s": 0.01, "backoff_max_s": 0.05},
        "pricing": {"input_per_million": 1.0, "output_per_million": 2.0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return TeacherConfig.from_dict(data)
