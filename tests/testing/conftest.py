"""Fixtures for the fake teacher's own tests.

- ``fake_teacher``: a fresh in-thread :class:`FakeTeacher` per test (default config, empty
  stats). Configure it with ``fake_teacher.configure(...)``, or parametrize it indirectly with a
  dict of config fields: ``@pytest.mark.parametrize("fake_teacher", [{"reasoning": True}],
  indirect=True)``.
- ``fake_teacher_factory``: ``make(**config) -> FakeTeacher`` starts as many as a test wants (replicas);
  any of them can be ``.stop()``-ped to play a dead replica. All are stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.fake_teacher import FakeTeacher


@pytest.fixture
def fake_teacher(request: pytest.FixtureRequest) -> Iterator[FakeTeacher]:
    options: dict[str, Any] = dict(getattr(request, "param", None) or {})
    teacher = FakeTeacher(**options)
    teacher.start_in_thread()
    try:
        yield teacher
    finally:
        teacher.stop()


@pytest.fixture
def fake_teacher_factory() -> Iterator[Callable[..., FakeTeacher]]:
    started: list[FakeTeacher] = []

    def make(**options: Any) -> FakeTeacher:
        teacher = FakeTeacher(**options)
        teacher.start_in_thread()
        started.append(teacher)
        return teacher

    try:
        yield make
    finally:
        for teacher in started:
            teacher.stop()
