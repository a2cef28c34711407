"""Resume after SIGKILL: every row exactly once, identical output, re-sends bounded by the window."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

from tests.support.fake_teacher import FakeTeacher

JOB = Path(__file__).with_name("resume_job.py")
N, WINDOW = 1500, 16


def _start(base_url: str, working_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, str(JOB), base_url, str(working_dir), str(N), str(WINDOW)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_sigkill_twice_then_resume_matches_an_uninterrupted_run(tmp_path):
    server = FakeTeacher(answer_bytes=200, reasoning=True, reasoning_bytes=100, latency_ms=5, jitter_ms=5)
    base_url = server.start_in_thread()
    rng = random.Random(7)
    try:
        work = tmp_path / "killed"
        for _ in range(2):
            before = server.stats(brief=True)["requests"]
            target = before + rng.randint(150, 450)
            proc = _start(base_url, work)
            while server.stats(brief=True)["requests"] < target:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        proc = _start(base_url, work)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert f"ROWS {N}" in out
        stats = server.stats()
        resent = sum(count - 1 for count in stats["per_hash"].values())
        assert stats["unique_requests"] == N
        print(f"re-sent after 2 kills: {resent}")
        assert resent <= 2 * WINDOW  # at most the in-flight window per kill

        reference = tmp_path / "reference"
        proc = _start(base_url, reference)
        proc.communicate(timeout=120)
        killed = datasets.load_from_disk(str(work / "runs" / "Solve" / "dataset"))
        clean = datasets.load_from_disk(str(reference / "runs" / "Solve" / "dataset"))
        assert killed["id"] == list(range(N))  # every row exactly once, in order
        assert killed.to_list() == clean.to_list()
    finally:
        server.stop()
