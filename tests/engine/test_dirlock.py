"""One process owns a run directory: a second one is refused naming the holder, or waits by option."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from thoughtmill.curation.engine import LLM, TeacherConfig
from thoughtmill.curation.errors import CurationError

from tests.support.fake_teacher import FakeTeacher

ROOT = Path(__file__).resolve().parents[2]
JOB = Path(__file__).with_name("lock_job.py")
HOLD = """
import sys, time
from thoughtmill.curation.engine.dirlock import DirectoryLock
lock = DirectoryLock(sys.argv[1], purpose="a test holder").acquire()
print("HELD", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _start_job(base_url: str, working_dir: Path, n: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(JOB), base_url, str(working_dir), str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "RUNNING", proc.stderr.read() if proc.stderr else ""
    return proc


def _hold(directory: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "HELD"
    return proc


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {"id": row["id"], "answer": response.content}


def _teacher(server: FakeTeacher) -> TeacherConfig:
    return TeacherConfig.from_dict(
        {"provider": "openai", "model": "fake-r1", "base_urls": [server.base_url], "max_concurrency": 4}
    )


@pytest.mark.slow
def test_a_second_job_on_the_same_run_directory_is_refused_naming_the_holder_then_waits(tmp_path):
    server = FakeTeacher(answer_bytes=50, latency_ms=1500)
    server.start_in_thread()
    rows = [{"id": i, "problem": f"q{i}"} for i in range(4)]
    try:
        first = _start_job(server.base_url, tmp_path, len(rows))
        with pytest.raises(CurationError, match=rf"in use by process {first.pid}\b"):
            Solve(_teacher(server), working_dir=tmp_path, progress=False)(rows)
        # waiting instead: it starts once the first job is done and pays for nothing again
        out = Solve(_teacher(server), working_dir=tmp_path, progress=False, wait_for_lock=60)(rows)
        assert first.wait(30) == 0
        assert out["id"] == [0, 1, 2, 3]
        assert server.stats(brief=True)["requests"] == 4, "the answers were paid for once"
    finally:
        server.stop()


def test_a_lock_whose_holder_was_killed_is_taken_at_once(tmp_path):
    from thoughtmill.curation.engine.dirlock import DirectoryLock

    holder = _hold(tmp_path, 60)
    with pytest.raises(CurationError, match=rf"in use by process {holder.pid} \(a test holder"):
        DirectoryLock(tmp_path).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with DirectoryLock(tmp_path, purpose="the second"):  # the pid in the file is stale: not trusted
        assert time.monotonic() - started < 1
        assert "the second" in (tmp_path / ".lock").read_text()


def test_waiting_for_a_lock_gives_up_after_the_timeout_naming_the_holder(tmp_path):
    from thoughtmill.curation.engine.dirlock import DirectoryLock

    holder = _hold(tmp_path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(CurationError, match=rf"in use by process {holder.pid}.*waited 0\.5s"):
            DirectoryLock(tmp_path, wait=0.5).acquire()
        assert 0.5 <= time.monotonic() - started < 3
    finally:
        holder.kill()
        holder.wait()


def test_a_pipeline_run_directory_held_by_another_process_is_refused(tmp_path):
    from thoughtmill.curation.pipeline.config import load_config
    from thoughtmill.curation.pipeline.runner import run_pipeline

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = _hold(run_dir, 60)
    try:
        config = load_config(ROOT / "configs" / "demo.yaml", [f"run_dir={run_dir}"])
        with pytest.raises(CurationError, match=rf"{run_dir}.* in use by process {holder.pid}"):
            run_pipeline(config, echo=lambda _: None)
        assert not (run_dir / "sources").exists(), "nothing ran"
    finally:
        holder.kill()
        holder.wait()


def test_a_cancelled_wait_leaves_nothing_behind(tmp_path):
    import asyncio

    from thoughtmill.curation.engine.dirlock import DirectoryLock

    holder = _hold(tmp_path, 60)
    try:

        async def impatient() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(DirectoryLock(tmp_path, wait=True).acquire_async(), 0.3)

        asyncio.run(impatient())
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.3)  # nothing is still waiting in the background to grab the lock
    with DirectoryLock(tmp_path):
        pass
