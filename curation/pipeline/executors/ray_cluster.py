"""``executor: ray``: a stage's shards run as Ray tasks on a cluster (or a local Ray on this machine).

The cluster is the one at ``executor.address``, else ``RAY_ADDRESS``, else a Ray started here. Every
node must see the run directory at the same path (a shared filesystem): shards read their input and
write their output, cache partition and completion marker there. A worker that dies mid-shard has its
task run again by Ray on a survivor (``max_retries``); the shard resumes from what it had committed
(the engine cache, the verification journal). Ray is an optional extra, imported here only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.engine.ratelimit import SharedBudget
from thoughtmill.curation.errors import ConfigError, CurationError
from thoughtmill.curation.pipeline.executors.base import Executor, register_executor

from thoughtmill.dependencies import missing_dependency

R = TypeVar("R")


def import_ray() -> Any:
    """The ``ray`` module, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise missing_dependency(
            "ray", "executor: ray (running pipeline shards on a Ray cluster)", error=ConfigError
        ) from None
    return ray


def run_task(task: Callable[[], R]) -> R:
    """The body of every shard's Ray task."""
    return task()


class RayBudget:
    """A `SharedBudget` living in one Ray actor; picklable, so every shard task gets the same one."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    async def acquire(self, estimated_tokens: float) -> float:
        return await self.actor.acquire.remote(estimated_tokens)

    async def refund(self, amount: float) -> None:
        await self.actor.refund.remote(amount)

    async def cool_down(self, seconds: float) -> None:
        await self.actor.cool_down.remote(seconds)

    def count(self) -> int:
        """Requests granted so far, across every rank."""
        import ray

        return ray.get(self.actor.count.remote())


@register_executor("ray")
class RayExecutor(Executor):
    def __init__(
        self,
        *,
        shards: int | None = None,
        address: str | None = None,
        cpus_per_shard: float = 1.0,
        max_retries: int = 3,
        **options: Any,
    ) -> None:
        super().__init__(shards=shards)
        self.ray = import_ray()
        self.started_ray = False
        if not self.ray.is_initialized():
            self.ray.init(
                address=address or os.environ.get("RAY_ADDRESS") or None,
                log_to_driver=False,
                configure_logging=False,
            )
            self.started_ray = True
        self.cpus_per_shard = cpus_per_shard
        self.max_retries = max_retries
        self.actors: list[Any] = []

    def default_shards(self) -> int:
        """One shard per ``cpus_per_shard`` CPUs of the cluster as it is now (set ``executor.shards``
        to keep the cache partitions when the cluster's size changes between runs)."""
        cpus = float(self.ray.cluster_resources().get("CPU", 1))
        return max(1, int(cpus // self.cpus_per_shard))

    def shard_cpus(self) -> float:
        """What each shard's task asks Ray for: a node runs as many shards at once as that allows, so
        a shard must not use more (a 64-CPU node runs 64 one-CPU shards, not 64 x 64 sandboxes)."""
        return self.cpus_per_shard

    def map(self, tasks: Sequence[Callable[[], R]]) -> list[R]:
        """Run every task; at most as many are handed to Ray at once as the cluster has shard slots.

        Handing Ray every shard at once lets it queue several behind one node's busy worker while
        another node sits idle (measured: a free node idle for 2 s of a 7 s stage); handing out the
        next shard only when one finishes puts it on the node that just freed up."""
        remote = self.ray.remote(num_cpus=self.cpus_per_shard, max_retries=self.max_retries)(run_task)
        results: list[Any] = [None] * len(tasks)
        waiting = list(enumerate(tasks))[::-1]
        running: dict[Any, int] = {}
        try:
            while waiting or running:
                slots = self.default_shards()  # read again as each shard finishes: nodes may join
                while waiting and len(running) < slots:
                    index, task = waiting.pop()
                    running[remote.remote(task)] = index
                done, _ = self.ray.wait(list(running), num_returns=1)
                for ref in done:
                    results[running.pop(ref)] = self.ray.get(ref)
            return results
        except self.ray.exceptions.RayTaskError as exc:
            self._cancel(running)
            cause = exc.cause if isinstance(exc.cause, BaseException) else None
            if isinstance(cause, CurationError):
                raise cause from None
            raise CurationError(f"a shard failed on the Ray cluster: {exc}") from None
        except self.ray.exceptions.RayError as exc:  # a worker died more often than max_retries
            self._cancel(running)
            raise CurationError(
                f"a shard could not finish on the Ray cluster ({type(exc).__name__}): {exc}; "
                "run again to redo only the unfinished shards"
            ) from None

    def _cancel(self, running: dict[Any, int]) -> None:
        for ref in running:
            self.ray.cancel(ref, force=True)

    def budget(self, teacher: TeacherConfig) -> RayBudget | None:
        if not (teacher.requests_per_minute or teacher.tokens_per_minute):
            return None
        actor_cls = self.ray.remote(num_cpus=0, max_restarts=-1)(SharedBudget)
        actor = actor_cls.remote(teacher.requests_per_minute, teacher.tokens_per_minute)
        self.actors.append(actor)
        return RayBudget(actor)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self.started_ray:
            self.ray.shutdown()
