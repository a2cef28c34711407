"""Concurrency: judge many solutions across the cores (local processes) or a Ray cluster."""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from thoughtmill.execution import compare
from thoughtmill.execution import sandbox as sb
from thoughtmill.execution import worker as worker_mod
from thoughtmill.execution.errors import ExecutionError
from thoughtmill.execution.judge import judge
from thoughtmill.execution.testcases import parse_test_cases
from thoughtmill.execution.types import Limits, Status, Verdict

from thoughtmill import import_root

Item = tuple[Hashable, str, Any]


def judge_one(code: str, test_cases: Any, limits: Limits, mode: str) -> Verdict:
    """Like run_tests, but a malformed item becomes a (non-passing) verdict instead of an exception."""
    try:
        spec = parse_test_cases(test_cases)
    except ExecutionError as exc:
        return Verdict(Status.SANDBOX_ERROR, detail=f"bad test cases: {exc}")
    try:
        return judge(code, spec, limits, mode)
    except sb.SandboxUnavailable:
        raise
    except Exception as exc:  # never lose a batch to one item; never call it a pass either
        return Verdict(
            Status.SANDBOX_ERROR, total=len(spec), detail=f"judge failure: {type(exc).__name__}: {exc}"
        )


def judge_chunk(
    chunk: list[tuple[int, str, Any]], limits: dict[str, Any], mode: str
) -> list[tuple[int, dict]]:
    lim = Limits.from_dict(limits)
    return [(idx, judge_one(code, tc, lim, mode).to_dict()) for idx, code, tc in chunk]


def _chunks(
    items: Iterable[Item], size: int, ids: dict[int, Hashable]
) -> Iterator[list[tuple[int, str, Any]]]:
    chunk: list[tuple[int, str, Any]] = []
    for n, item in enumerate(items):
        try:
            item_id, code, tc = item
        except (TypeError, ValueError) as exc:
            raise ExecutionError(
                f"items[{n}]: expected (id, code, test_cases), got {type(item).__name__}"
            ) from exc
        ids[n] = item_id
        chunk.append((n, code, tc))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_batch(
    items: Iterable[Item],
    limits: Limits | None = None,
    *,
    workers: int | None = None,
    mode: str = compare.STRICT,
    backend: str = "local",
    chunk_size: int = 1,
    **backend_options: Any,
) -> Iterator[tuple[Hashable, Verdict]]:
    """Judge (id, code, test_cases) items concurrently; yields (id, Verdict) in completion order.

    Items are consumed lazily (at most a few chunks per worker are in flight), so memory stays
    bounded on any input size. ``backend="ray"`` runs the same work on a Ray cluster (see
    execution.ray_backend; extra options such as ``address`` go there).
    """
    compare.check_mode(mode)
    limits = limits or Limits()
    if backend == "ray":
        from thoughtmill.execution.ray_backend import run_batch_ray

        yield from run_batch_ray(
            items, limits, workers=workers, mode=mode, chunk_size=chunk_size, **backend_options
        )
        return
    if backend != "local":
        raise ExecutionError(f"backend must be 'local' or 'ray', got {backend!r}")
    if backend_options:
        raise ExecutionError(f"unknown options for the local backend: {sorted(backend_options)}")
    workers = workers or os.cpu_count() or 1
    config = sb.detect()  # probe once here (and warn here), not in every worker
    ids: dict[int, Hashable] = {}
    source = _chunks(items, max(1, chunk_size), ids)
    with _WorkerPool(workers, config) as pool:
        yield from ((ids.pop(idx), v) for idx, v in pool.map_unordered(source, limits.to_dict(), mode))


class _Worker:
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
        self.chunk: list[tuple[int, str, Any]] | None = None
        worker_mod._write(self.proc.stdin.fileno(), ("config", config))

    def submit(self, chunk: list[tuple[int, str, Any]], limits: dict[str, Any], mode: str) -> None:
        self.chunk = chunk
        worker_mod._write(self.proc.stdin.fileno(), ("chunk", chunk, limits, mode))

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


class _WorkerPool:
    """N judge worker processes (one sandbox at a time each), fed one chunk at a time."""

    def __init__(self, n: int, config: sb.Config) -> None:
        self.n, self.config = n, config
        self.workers: list[_Worker] = []

    def __enter__(self) -> _WorkerPool:
        self.workers = [_Worker(self.config) for _ in range(self.n)]
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            w.close()

    def map_unordered(
        self, source: Iterator[list[tuple[int, str, Any]]], limits: dict[str, Any], mode: str
    ) -> Iterator[tuple[int, Verdict]]:
        sel = selectors.DefaultSelector()
        idle = list(self.workers)
        busy = 0
        exhausted = False
        try:
            while True:
                while idle and not exhausted:
                    chunk = next(source, None)
                    if chunk is None:
                        exhausted = True
                        break
                    w = idle.pop()
                    w.submit(chunk, limits, mode)
                    sel.register(w.fd_out, selectors.EVENT_READ, w)
                    busy += 1
                if not busy:
                    return
                for key, _ in sel.select():
                    w = key.data
                    sel.unregister(w.fd_out)
                    busy -= 1
                    reply = worker_mod._read(w.fd_out)
                    chunk, w.chunk = w.chunk, None
                    if reply is None:  # the worker died: its items fail, a fresh worker takes its place
                        self.workers.remove(w)
                        w.close()
                        w = _Worker(self.config)
                        self.workers.append(w)
                        detail = "judge worker process died"
                        for idx, _code, _tc in chunk or []:
                            yield idx, Verdict(Status.SANDBOX_ERROR, detail=detail)
                    else:
                        for idx, verdict in reply:
                            yield idx, Verdict.from_dict(verdict)
                    idle.append(w)
        finally:
            sel.close()
