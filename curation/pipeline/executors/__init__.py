"""Executors: where a stage's shards run (``executor: local`` by default, ``executor: ray`` on a cluster)."""

from __future__ import annotations

from thoughtmill.curation.pipeline.executors import local, ray_cluster  # noqa: F401 - each registers itself
from thoughtmill.curation.pipeline.executors.base import (
    EXECUTORS,
    Executor,
    check_executor_name,
    make_executor,
    register_executor,
)

__all__ = ["EXECUTORS", "Executor", "check_executor_name", "make_executor", "register_executor"]
