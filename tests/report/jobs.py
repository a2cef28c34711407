"""A pipeline run in its own process (so a test can watch it and SIGKILL it), and waiting on its files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from thoughtmill.curation.pipeline.heartbeat import EVERY_S_ENV

RUN_JOB = Path(__file__).with_name("run_job.py")


@contextmanager
def pipeline_job(
    config: str | Path, run_dir: str | Path, *overrides: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``run_pipeline`` in a child process, its heartbeat written on every report; killed on the way out."""
    job = subprocess.Popen(
        [sys.executable, str(RUN_JOB), str(config), str(run_dir), *overrides],
        env={**os.environ, EVERY_S_ENV: "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield job
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()


def kill(job: subprocess.Popen[bytes]) -> None:
    """SIGKILL: nothing in the job gets to say goodbye."""
    job.send_signal(signal.SIGKILL)
    job.wait(30)


def wait_for(path: Path, test: Callable[[dict[str, Any]], bool], timeout: float = 120.0) -> dict[str, Any]:
    """The JSON file at ``path`` once ``test`` holds for it (torn or missing reads are retried)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            state = None
        if state and test(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached the state wanted")
