"""The benchmarks' "quiet or busy" verdict counts other work, not the benchmark's own processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench._spread import machine_load, other_work_cores

pytestmark = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc/stat")

BURN = [sys.executable, "-c", "import time\nend = time.process_time() + 1.5\nwhile time.process_time() < end: pass"]


def test_the_benchmarks_own_children_are_not_other_work():
    before = machine_load()
    subprocess.run(BURN, check=True)  # 1.5 s of CPU, reaped: the benchmark's own
    others = other_work_cores(before, machine_load())
    assert others is not None and others < 0.5


def test_a_process_the_benchmark_did_not_start_is_other_work():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        before = machine_load()
        time.sleep(2.0)
        after = machine_load()  # read while it still runs: never reaped into our own counters
    finally:
        busy.kill()
        busy.wait()
    others = other_work_cores(before, after)
    assert others is not None and others > 0.5
