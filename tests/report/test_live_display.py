"""The live display on a real pseudo-terminal: every counter shown, on a wide and on a narrow one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.report.conftest import ROOT
from tests.support.fake_teacher import FakeTeacher

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


@pytest.fixture
def teacher():
    server = FakeTeacher(latency_ms=20)
    server.start_in_thread()
    yield server
    server.stop()


def _on_a_terminal(columns: int, base_url: str, working_dir: Path) -> str:
    """The job's screen output on a pseudo-terminal ``columns`` wide, control codes removed."""
    main, child = os.openpty()
    job = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "report" / "progress_job.py"), base_url, str(working_dir), "40"],
        stdin=child, stdout=child, stderr=child, env={**os.environ, "COLUMNS": str(columns), "TERM": "xterm"},
    )  # fmt: skip
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert job.wait(60) == 0
    return ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def test_wide_terminal_shows_the_bar_and_every_counter(teacher, tmp_path: Path) -> None:
    screen = _on_a_terminal(200, teacher.base_url, tmp_path)
    assert "━" in screen and "40/40" in screen
    for label in ("cached 0", "in flight", "retries 0", "429s 0", "failed 0", "req/s", "tok/s", "$"):
        assert label in screen, label


def test_narrow_terminal_drops_the_bar_not_a_number(teacher, tmp_path: Path) -> None:
    screen = _on_a_terminal(80, teacher.base_url, tmp_path)
    assert "━" not in screen and "40/40" in screen
    for label in ("c 0", "fly", "rt 0", "429 0", "x 0", "req/s", "t/s", "$", "total)"):
        assert label in screen, label
