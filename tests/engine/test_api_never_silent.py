"""The Python API never fails silently: lost rows are reported, can be refused, and errors read clean."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from pydantic import BaseModel
from thoughtmill.curation.engine import LLM
from thoughtmill.curation.errors import AuthenticationError, CurationError

from tests.support.fake_teacher import FakeTeacher

from .conftest import teacher_for

ROOT = Path(__file__).resolve().parents[2]


class Verdict(BaseModel):
    correct: bool


class Judge(LLM):
    response_format = Verdict

    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {"id": row["id"], **response.parsed.model_dump()}


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {"id": row["id"], "answer": response.content}


def rows(n: int, bad: set[int] = frozenset(), marker: str = "[[fault:400:*]]") -> list[dict]:
    return [{"id": i, "problem": f"q{i}" + (f" {marker}" if i in bad else "")} for i in range(n)]


def test_every_structured_reply_invalid_is_reported_not_an_empty_set_in_silence(
    server, api_key, tmp_path, caplog
):
    llm = Judge(teacher_for(server), working_dir=tmp_path, progress=False)
    with caplog.at_level(logging.WARNING, logger="thoughtmill"):
        out = llm(rows(20, set(range(20)), "[[fault:badjson:*]]"))
    assert len(out) == 0
    failures = str(llm.last_run.paths.failures)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("20 of 20 rows failed" in w and failures in w for w in warnings), warnings
    assert any("invalid_structured_output: 20" in w for w in warnings), warnings


def test_one_lost_row_is_reported(server, api_key, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="thoughtmill"):
        out = Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(30, {7}))
    assert len(out) == 29
    assert "1 of 30 rows failed" in caplog.text and "http_400: 1" in caplog.text


def test_a_clean_run_reports_no_failure(server, api_key, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="thoughtmill"):
        Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(10))
    assert "failed" not in caplog.text


def test_require_all_raises_after_keeping_what_was_paid_for(server, api_key, tmp_path):
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False, require_all=True)
    with pytest.raises(CurationError, match=r"1 of 30 rows failed .*require_all") as info:
        llm(rows(30, {7}))
    assert str(llm.last_run.paths.failures) in str(info.value)
    assert f"29 answered rows are saved in {llm.last_run.paths.dataset}" in str(info.value)
    assert len(info.value.dataset) == 29, "the answered rows come with the error"
    again = Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(30))  # the fault is gone
    assert len(again) == 30
    assert server.stats(brief=True)["requests"] == 31, "nothing answered was paid for twice"


def test_max_failure_rate(server, api_key, tmp_path):
    data = rows(20, {1, 2})  # 10% fail
    assert (
        len(
            Solve(teacher_for(server), working_dir=tmp_path / "a", progress=False, max_failure_rate=0.1)(data)
        )
        == 18
    )
    with pytest.raises(CurationError, match=r"2 of 20 rows failed \(10%\).*max_failure_rate=0\.05"):
        Solve(teacher_for(server), working_dir=tmp_path / "b", progress=False, max_failure_rate=0.05)(data)
    with pytest.raises(ValueError, match="max_failure_rate"):
        Solve(teacher_for(server), working_dir=tmp_path, max_failure_rate=1.5)


@pytest.mark.parametrize("where", ["teacher", "call", "row"])
def test_n_above_one_is_refused_before_anything_is_paid(server, api_key, tmp_path, where):
    class Many(Solve):
        def generation_params(self, row):
            return {"n": 3} if where == "row" else {}

    teacher = teacher_for(server, generation={"n": 3} if where == "teacher" else {})
    with pytest.raises(CurationError, match=r"n=3 .*bills? .*keeps? (only )?one"):
        Many(teacher, working_dir=tmp_path, progress=False, generation={"n": 3} if where == "call" else None)(
            rows(5)
        )
    assert server.stats(brief=True)["requests"] == 0


def test_an_error_reads_as_one_error_without_the_event_loop_noise(server, api_key, tmp_path):
    with pytest.raises(AuthenticationError) as info:
        Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(5, {0}, "[[fault:401:*]]"))
    text = "".join(traceback.format_exception(info.value))
    assert "no running event loop" not in text
    assert "During handling of the above exception" not in text, text


def test_an_error_inside_a_running_event_loop_reads_the_same(server, api_key, tmp_path):
    import asyncio

    async def in_a_notebook():
        Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(5, {0}, "[[fault:401:*]]"))

    with pytest.raises(AuthenticationError) as info:
        asyncio.run(in_a_notebook())
    assert "During handling of the above exception" not in "".join(traceback.format_exception(info.value))


def _default_sigint() -> None:
    """In the job: Ctrl-C's default action, even when the test run itself ignores SIGINT (started in
    the background by a non-interactive shell, which ignores it for its children)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_is_a_few_lines_and_keeps_what_was_paid_for(tmp_path):
    server = FakeTeacher(answer_bytes=50, latency_ms=100)
    server.start_in_thread()
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        job = [
            sys.executable,
            str(Path(__file__).with_name("interrupt_job.py")),
            server.base_url,
            str(tmp_path),
            "400",
        ]
        proc = subprocess.Popen(
            job,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=_default_sigint,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ANSWERED"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode != 0, (out, err[-3000:])
        assert err.count("Traceback (most recent call last)") <= 1, err
        assert len(err.strip().splitlines()) <= 12, err
        assert "interrupted" in err and "re-run" in err, err
        answered = server.stats(brief=True)["requests"]
        summary = json.loads((tmp_path / "runs" / "Solve" / "summary.json").read_text())
        assert summary["fatal_error"] and "interrupted" in summary["fatal_error"]
        done = subprocess.run(job, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0 and "ROWS 400" in done.stdout, done.stderr
        assert server.stats(brief=True)["requests"] - answered <= 400 - summary["requests_ok"] + 16
    finally:
        server.stop()


LOSES_A_ROW = """
import sys
sys.path.insert(0, sys.argv[3])
from tests.engine.conftest import teacher_for
from tests.engine.test_api_never_silent import Solve, rows

class Server:
    base_url = sys.argv[1]

out = Solve(teacher_for(Server), working_dir=sys.argv[2], progress=False)(rows(10, {3}))
print("ROWS", len(out))
"""


def test_the_warning_is_visible_without_any_logging_set_up(server, api_key, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", LOSES_A_ROW, server.base_url, str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0 and "ROWS 9" in done.stdout, done.stderr
    assert "1 of 10 rows failed" in done.stderr and "failures.jsonl" in done.stderr
