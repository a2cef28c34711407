"""Shared helpers for the execution tests: case tables under tests/data/execution/."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parents[1] / "data" / "execution"
#: in the command line of every local judge worker process
WORKER = b"thoughtmill.execution.worker"


def load_cases(name: str) -> list[dict[str, Any]]:
    cases = yaml.safe_load((DATA / name).read_text())
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases


def batch_workers() -> int:
    # more judges than cores: many cases just wait (sleep, time limits)
    return max(2, 2 * (os.cpu_count() or 1))


@pytest.fixture(scope="session")
def sandbox_layer() -> str:
    from thoughtmill.execution import sandbox_report

    return sandbox_report()["layer"]


def judging_processes(marker: bytes, parent: int | None = None) -> list[int]:
    """Processes whose command line holds ``marker`` (children of ``parent``, when given) that have a
    child of their own: a judge worker or actor with a sandbox running."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if marker in cmd and children and (parent is None or ppid == parent):
            found.append(int(pid))
    return found


class Saboteur(threading.Thread):
    """Sends ``sig`` to every judge process caught judging (see `judging_processes`), ``times`` in all;
    by default only our own children."""

    def __init__(self, sig: int, times: int, marker: bytes = WORKER, parent: int | None = -1) -> None:
        super().__init__(daemon=True)
        self.sig, self.times, self.marker = sig, times, marker
        self.parent = os.getpid() if parent == -1 else parent
        self.hit: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and len(self.hit) < self.times:
            for pid in judging_processes(self.marker, self.parent):
                if pid not in self.hit and len(self.hit) < self.times:
                    os.kill(pid, self.sig)
                    self.hit.append(pid)
            time.sleep(0.02)
