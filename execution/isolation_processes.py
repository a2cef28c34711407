"""Processes around a sandbox: reaping orphans (child subreaper), finding children, killing.

Kept apart from the layers (sandbox.py) and the cgroups (isolation_cgroups.py), which both use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from pathlib import Path

_SUBREAPER_DONE = False


def become_subreaper() -> bool:
    """Make this (dedicated judge worker) process the reaper of orphaned sandbox processes.

    Linux PR_SET_CHILD_SUBREAPER: without it a process whose parent exits first is re-parented to
    PID 1, which on some container hosts never reaps, and zombies keep counting against RLIMIT_NPROC
    and pids cgroups. Only for processes that own all their children (pool workers, Ray actors):
    `reap_orphans` then collects every exited child between solutions.
    """
    global _SUBREAPER_DONE
    if _SUBREAPER_DONE:
        return True
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(36, 1, 0, 0, 0) == 0:  # PR_SET_CHILD_SUBREAPER
            _SUBREAPER_DONE = True
    except (OSError, AttributeError):
        pass
    return _SUBREAPER_DONE


def reap_orphans() -> int:
    """In a subreaper that owns all its children: collect every exited child (never blocks)."""
    if not _SUBREAPER_DONE:
        return 0
    n = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1


def children_of(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return out


def reap(pid: int) -> None:
    """Collect `pid` if it is a zombie child of ours (re-parented helpers included); never blocks."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
