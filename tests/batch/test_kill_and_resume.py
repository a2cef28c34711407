"""A mode: batch run SIGKILLed between submit and collect, then run again: the second run submits
nothing new (counted on the server), collects every batch the first one submitted, and writes every
row; the API key is in no file of the working directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_batch_openai import FakeBatchOpenAI

from .conftest import KEY, KEY_ENV, assert_key_nowhere

JOB = Path(__file__).with_name("batch_job.py")
N, PER_BATCH = 30, 10  # three batches


def _start(provider: str, url: str, work: Path) -> subprocess.Popen:
    env = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, str(JOB), provider, url, str(work), str(N), str(PER_BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the job ended early: {proc.stderr.read() if proc.stderr else ''}")
        assert time.monotonic() < deadline, "timed out waiting for the job"
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("moment", ["after_first_submit", "while_polling"])
def test_sigkill_between_submit_and_collect_then_resume_submits_nothing_new(provider, moment, tmp_path):
    server = FakeBatchOpenAI(KEY) if provider == "openai" else FakeAnthropic(KEY, polls_to_end=2)
    server.start()
    try:
        server.hold = True  # batches stay in progress: the job is between submit and collect
        work = tmp_path / "work"
        proc = _start(provider, server.url, work)
        if moment == "after_first_submit":
            _wait_for(lambda: server.stats["batches_created"] >= 1, proc)
        else:
            _wait_for(lambda: server.stats["batches_created"] == 3 and server.stats["polls"] >= 3, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        submitted_before = server.stats["batches_created"]
        ledger = (work / "runs/Solve/batches/ledger.jsonl").read_text().splitlines()
        assert [json.loads(line)["event"] for line in ledger].count("collected") == 0

        server.hold = False
        proc = _start(provider, server.url, work)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert f"ROWS {N}" in out
        assert server.stats["batches_created"] == 3  # the batches the killed run submitted, and no more
        assert server.stats["batch_requests"] == N  # every request submitted exactly once
        if provider == "openai":
            # an upload whose answer the kill lost is uploaded again: an unused file, never a second batch
            assert 3 <= server.stats["uploads"] <= 4 and server.stats["live_requests"] == 0
        else:
            assert server.stats["messages"] == 0
        if moment == "while_polling":
            assert submitted_before == 3
        stats = json.loads(out.split("STATS ", 1)[1])
        assert stats["failures"] == 0
        dataset = datasets.load_from_disk(str(work / "runs" / "Solve" / "dataset"))
        assert dataset["id"] == list(range(N)) and all(a.startswith("answer ") for a in dataset["answer"])
        assert_key_nowhere(work)
    finally:
        server.stop()
