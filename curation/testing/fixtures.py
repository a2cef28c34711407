"""pytest fixtures around the fake teacher. Import them into a ``conftest.py``::

    from thoughtmill.curation.testing.fixtures import fake_teacher, fake_teacher_factory  # noqa: F401

- ``fake_teacher``: a fresh in-thread :class:`FakeTeacher` per test (default config, empty
  stats). Configure it with ``fake_teacher.configure(...)``, or parametrize it indirectly with a
  dict of config fields: ``@pytest.mark.parametrize("fake_teacher", [{"reasoning": True}],
  indirect=True)``.
- ``fake_teacher_factory``: ``make(**config) -> FakeTeacher`` starts as many as a test wants (replicas);
  any of them can be ``.stop()``-ped to play a dead replica (and ``start_in_thread(port=t.port)``-ed
  again). All are stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from thoughtmill.curation.testing.fake_teacher import FakeTeacher


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

    def make(host: str = "127.0.0.1", port: int = 0, **options: Any) -> FakeTeacher:
        teacher = FakeTeacher(**options)
        teacher.start_in_thread(host=host, port=port)
        started.append(teacher)
        return teacher

    try:
        yield make
    finally:
        for teacher in started:
            teacher.stop()
