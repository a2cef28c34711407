"""One process owns a directory: a lock that the kernel releases when its holder dies, however it dies.

Two runs writing one run directory both pay for every request and then trip over each other's
shards. The lock is an ``flock`` on ``DIR/.lock``: the kernel drops it when the holding process
exits, is killed or crashes, so a stale lock cannot exist and the pid written in the file is only
there to name the holder in the error (never trusted to decide anything).

    with DirectoryLock(run_dir, purpose="thoughtmill run"):
        ...                      # a second process gets DirectoryBusy naming this one's pid

A *shared* lock lets many processes use a directory together (the response cache) while keeping
out one that needs it alone (rebuilding the cache's index).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thoughtmill.curation.errors import CurationError

LOCK_FILE = ".lock"
_POLL_S = 0.1


class DirectoryBusy(CurationError):
    """Another process (or another run in this one) holds the directory."""


class DirectoryLock:
    """An exclusive (or shared) lock on a directory. ``wait``: False fails at once, True waits as long
    as it takes, a number waits that many seconds then fails; the error names the holder either way."""

    def __init__(
        self, directory: str | Path, *, wait: bool | float = False, purpose: str = "", shared: bool = False
    ) -> None:
        self.directory = Path(directory)
        self.wait = wait
        self.purpose = purpose or " ".join(sys.argv[:2]) or "python"
        self.shared = shared
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.directory / LOCK_FILE

    def acquire(self) -> DirectoryLock:
        """Take the lock, waiting as ``wait`` says (the thread sleeps between attempts)."""
        fd = self._open()
        try:
            for pause in self._attempts(fd):
                time.sleep(pause)
        except BaseException:
            os.close(fd)
            raise
        return self._held(fd)

    async def acquire_async(self) -> DirectoryLock:
        """The same, for a coroutine: the event loop runs on between attempts, and a cancel stops waiting."""
        fd = self._open()
        try:
            for pause in self._attempts(fd):
                await asyncio.sleep(pause)
        except BaseException:
            os.close(fd)
            raise
        return self._held(fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            if not self.shared:
                os.ftruncate(fd, 0)  # no stale name left behind
            os.close(fd)  # closing the only descriptor releases the flock

    def try_exclusive(self) -> bool:
        """Turn a held shared lock into an exclusive one if no other process holds it (no waiting)."""
        assert self._fd is not None, "acquire the lock first"
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def back_to_shared(self) -> None:
        assert self._fd is not None, "acquire the lock first"
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _open(self) -> int:
        if self._fd is not None:
            raise DirectoryBusy(f"{self.directory} is already locked by this lock object")
        self.directory.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def _held(self, fd: int) -> DirectoryLock:
        self._fd = fd
        if not self.shared:
            self._write_holder(fd)
        return self

    def _attempts(self, fd: int) -> Iterator[float]:
        """Try to lock; after each refusal, yield how long to pause; raise once out of time."""
        mode = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        limit = 0.0 if self.wait is False else math.inf if self.wait is True else float(self.wait)
        deadline = time.monotonic() + limit
        while True:
            try:
                fcntl.flock(fd, mode)
                return
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise DirectoryBusy(self._busy_message(limit))
            yield _POLL_S

    def _busy_message(self, waited: float) -> str:
        holder = _read_holder(self.path)
        if holder and not pid_alive(holder.get("pid")):
            holder = {}  # written by a holder that died: the lock is held by processes that share it
        if holder.get("pid") == os.getpid():
            who = f"this process (pid {os.getpid()}: {holder.get('purpose', '?')})"
        elif holder:
            who = (
                f"process {holder.get('pid', '?')} ({holder.get('purpose', '?')}, on {holder.get('host', '?')}"
                f" since {holder.get('since', '?')})"
            )
        else:
            who = "another process (one that shares it, or has not written its pid yet)"
        waited_text = f"; waited {waited:g}s" if waited else ""
        return (
            f"{self.directory} is in use by {who}{waited_text}. One process owns a run directory at a "
            "time: wait for that one to finish, stop it, or ask to wait (wait_for_lock=SECONDS)."
        )

    def _write_holder(self, fd: int) -> None:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "purpose": self.purpose,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        data = json.dumps(record).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)


def pid_alive(pid: Any) -> bool:
    """Whether a process of this id runs on this machine (owned by anyone)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _read_holder(path: Path) -> dict[str, Any]:
    """Who holds the lock, as it wrote itself down (possibly not yet: it writes just after locking)."""
    for _ in range(5):
        with contextlib.suppress(OSError, ValueError):
            holder = json.loads(path.read_text() or "null")
            if isinstance(holder, dict):
                return holder
        time.sleep(0.02)
    return {}
