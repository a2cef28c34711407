"""The local backend: judge worker processes on this machine, driven over pipes.

Each worker (`execution.worker`) judges one chunk at a time, solution after solution, each in its own
sandbox, and answers each solution as soon as it is judged. The pool holds every judgement to a
deadline of its own: a worker that dies, hangs or stalls past it is killed (with whatever it started)
and replaced, and the solutions it had not answered come back as unfinished (see `execution.batch`,
which judges them again).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from thoughtmill.execution import sandbox as sb
from thoughtmill.execution.errors import ExecutionError
from thoughtmill.execution.protocol import FrameDecoder, write_message
from thoughtmill.execution.types import Limits, Verdict
from thoughtmill.execution.work import ChunkOutcome, WorkItem

from thoughtmill import import_root


class _Worker:
    """One judge process and the chunk it is working on."""

    def __init__(self, config: sb.Config) -> None:
        env = dict(os.environ)
        root = str(import_root())
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from thoughtmill.execution.worker import main; main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,
        )
        self.fd_out = self.proc.stdout.fileno()
        os.set_blocking(self.fd_out, False)
        self.decoder = FrameDecoder()
        self.chunk: list[WorkItem] = []
        self.verdicts: list[tuple[int, Verdict]] = []
        self.deadline = 0.0
        write_message(self.proc.stdin.fileno(), ("config", config))

    def submit(self, chunk: list[WorkItem], limits: dict[str, Any], mode: str, deadline: float) -> None:
        self.chunk, self.verdicts, self.deadline = chunk, [], deadline
        write_message(self.proc.stdin.fileno(), ("chunk", chunk, limits, mode))

    def read(self) -> bool:
        """Take what the worker wrote; False when it is gone."""
        try:
            data = os.read(self.fd_out, 1 << 16)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        self.verdicts += [(idx, Verdict.from_dict(v)) for idx, v in self.decoder.feed(data)]
        return True

    @property
    def done(self) -> bool:
        return len(self.verdicts) == len(self.chunk)

    def outcome(self, failure: str = "") -> ChunkOutcome:
        answered = {idx for idx, _ in self.verdicts}
        unfinished = [item for item in self.chunk if item[0] not in answered]
        return ChunkOutcome(self.verdicts, unfinished, in_flight=min(1, len(unfinished)), failure=failure)

    def kill(self) -> None:
        """SIGKILL the worker and every process it started (sandboxes included), then reap it."""
        family, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            family.append(pid)
            todo += sb.children_of(pid)
        for pid in family:
            sb.kill(pid)
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self.proc.stdout.close()


class LocalPool:
    """``workers`` judge processes; a backend of `execution.batch.run_batch` (start / wait_any)."""

    def __init__(
        self, workers: int | None, limits: Limits, mode: str, deadline_s: float, **options: Any
    ) -> None:
        if options:
            raise ExecutionError(f"unknown options for the local backend: {sorted(options)}")
        self.max_in_flight = workers or os.cpu_count() or 1
        self.limits, self.mode, self.deadline_s = limits.to_dict(), mode, deadline_s
        self.config = sb.detect()  # probe once here (and warn here), not in every worker
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.selector = selectors.DefaultSelector()

    def __enter__(self) -> LocalPool:
        self.idle = [_Worker(self.config) for _ in range(self.max_in_flight)]
        return self

    def __exit__(self, *exc: object) -> None:
        for w in [*self.idle, *self.busy]:
            if w in self.busy:
                w.kill()
            else:
                w.close()
        self.selector.close()

    def start(self, chunk: list[WorkItem]) -> _Worker:
        w = self.idle.pop()
        w.submit(chunk, self.limits, self.mode, time.monotonic() + self.deadline_s)
        self.selector.register(w.fd_out, selectors.EVENT_READ, w)
        self.busy.add(w)
        return w

    def wait_any(self, handles: Sequence[_Worker]) -> list[tuple[_Worker, ChunkOutcome]]:
        while True:
            now = time.monotonic()
            late = [w for w in handles if w.deadline <= now]
            if late:
                why = f"the judge missed its deadline ({self.deadline_s:g} s per solution) and was killed"
                return [(w, self._retire(w, why)) for w in late]
            finished: list[tuple[_Worker, ChunkOutcome]] = []
            for key, _ in self.selector.select(min(w.deadline for w in handles) - now):
                w = key.data
                before = len(w.verdicts)
                alive = w.read()
                if len(w.verdicts) > before:  # each answered solution restarts the clock
                    w.deadline = time.monotonic() + self.deadline_s
                if not alive:
                    finished.append((w, self._retire(w, "judge worker process died")))
                elif w.done:
                    self.selector.unregister(w.fd_out)
                    self.busy.discard(w)
                    self.idle.append(w)
                    finished.append((w, w.outcome()))
            if finished:
                return finished

    def _retire(self, w: _Worker, failure: str) -> ChunkOutcome:
        """A failed worker is killed (with its sandboxes) and leaves the pool; a fresh one takes its place."""
        self.selector.unregister(w.fd_out)
        w.kill()
        self.busy.discard(w)
        self.idle.append(_Worker(self.config))
        return w.outcome(failure)
