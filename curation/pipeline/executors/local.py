"""``executor: local`` (the default): every shard runs in this process, one after another.

With one shard (the default) a stage runs exactly as it always did, on the whole set; more shards
give the same result as a cluster with the same ``shards`` (same rows per rank, same cache partitions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from thoughtmill.curation.pipeline.executors.base import Executor, register_executor

R = TypeVar("R")


@register_executor("local")
class LocalExecutor(Executor):
    def map(self, tasks: Sequence[Callable[[], R]]) -> list[R]:
        return [task() for task in tasks]
