"""The Ray backend: the same judging on a Ray cluster (an actor pool, one judge per CPU, chunks per task).

Ray is imported lazily; ``pip install 'thoughtmill[ray]'`` (or ``pip install ray``) provides it. Each
actor is a long-lived judge process that probes its host's isolation layer once and then judges
chunks of solutions sequentially, each in its own sandbox; at most ``per_actor_inflight`` chunks are
queued per actor, so items are consumed lazily as in the local backend. A chunk whose actor dies or
misses its deadline (per solution, times the solutions queued on that actor) comes back unfinished,
and its actor is replaced.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

from thoughtmill.execution.errors import ExecutionError
from thoughtmill.execution.types import Limits, Verdict
from thoughtmill.execution.work import ChunkOutcome, WorkItem, judge_items


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ExecutionError(
            "the Ray backend needs ray: pip install 'thoughtmill[ray]' (or pip install ray)"
        ) from exc
    return ray


class JudgeActor:
    """Actor body: one per CPU; judges chunks in its own process."""

    def __init__(self) -> None:
        from thoughtmill.execution import sandbox as sb

        sb.become_subreaper()
        self.report = sb.sandbox_report()

    def layer(self) -> dict[str, Any]:
        return self.report

    def judge_chunk(self, chunk: list[WorkItem], limits: dict[str, Any], mode: str) -> list[tuple[int, dict]]:
        return list(judge_items(chunk, limits, mode))


@dataclasses.dataclass
class _Task:
    slot: int
    actor: Any
    chunk: list[WorkItem]
    deadline: float


class RayPool:
    """An actor pool; a backend of `execution.batch.run_batch` (start / wait_any)."""

    def __init__(
        self,
        workers: int | None,
        limits: Limits,
        mode: str,
        deadline_s: float,
        *,
        address: str | None = None,
        per_actor_inflight: int = 2,
    ) -> None:
        self.ray = import_ray()
        if not self.ray.is_initialized():
            self.ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        n_actors = workers or max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        self.actor_cls = self.ray.remote(num_cpus=1)(JudgeActor)
        self.actors: list[Any] = []
        self.load: list[int] = [0] * n_actors  # solutions queued per actor
        self.max_in_flight = n_actors * max(1, per_actor_inflight)
        self.limits, self.mode, self.deadline_s = limits.to_dict(), mode, deadline_s
        self.tasks: dict[Any, _Task] = {}

    def __enter__(self) -> RayPool:
        self.actors = [self.actor_cls.remote() for _ in self.load]
        return self

    def __exit__(self, *exc: object) -> None:
        for actor in self.actors:
            self.ray.kill(actor)

    def start(self, chunk: list[WorkItem]) -> Any:
        slot = min(range(len(self.actors)), key=lambda i: self.load[i])
        actor = self.actors[slot]
        self.load[slot] += len(chunk)
        ref = actor.judge_chunk.remote(chunk, self.limits, self.mode)
        self.tasks[ref] = _Task(slot, actor, chunk, time.monotonic() + self.deadline_s * self.load[slot])
        return ref

    def wait_any(self, refs: Sequence[Any]) -> list[tuple[Any, ChunkOutcome]]:
        timeout = max(0.0, min(self.tasks[r].deadline for r in refs) - time.monotonic())
        ready, _ = self.ray.wait(list(refs), num_returns=1, timeout=timeout)
        if not ready:
            now = time.monotonic()
            late = [r for r in refs if self.tasks[r].deadline <= now]
            why = f"the judge missed its deadline ({self.deadline_s:g} s per solution) and was killed"
            return [(r, self._failed(r, why)) for r in late]
        out = []
        for ref in ready:
            try:
                results = self.ray.get(ref)
            except Exception as exc:  # the actor died: its chunk is unfinished, never passed
                out.append((ref, self._failed(ref, f"ray task failed: {type(exc).__name__}")))
                continue
            task = self.tasks.pop(ref)
            self.load[task.slot] -= len(task.chunk)
            out.append((ref, ChunkOutcome([(idx, Verdict.from_dict(v)) for idx, v in results])))
        return out

    def _failed(self, ref: Any, failure: str) -> ChunkOutcome:
        task = self.tasks.pop(ref)
        self.load[task.slot] -= len(task.chunk)
        if self.actors[task.slot] is task.actor:  # replace it once, whichever of its tasks noticed
            self.ray.kill(task.actor)
            self.actors[task.slot] = self.actor_cls.remote()
        return ChunkOutcome([], list(task.chunk), in_flight=len(task.chunk), failure=failure)
