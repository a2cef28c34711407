"""The evaluator's view of the benchmark registry (``thoughtmill.benchmarks``): task name -> class.

The registry is shared with decontamination; each entry names its evaluator class here. Adding a
benchmark is one new file in this folder and one ``register_benchmark`` line in the registry.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from thoughtmill.eval.benchmarks.base import Benchmark

from thoughtmill.benchmarks import BENCHMARKS, find_benchmark


class TaskClasses(Mapping[str, type[Benchmark]]):
    """Every registered benchmark's evaluator class by name, read live from the registry (so one
    registered later, by a plugin or a test, is a task too)."""

    def __getitem__(self, name: str) -> type[Benchmark]:
        return BENCHMARKS[name].evaluator_class()

    def __iter__(self) -> Iterator[str]:
        return iter(list(BENCHMARKS))

    def __len__(self) -> int:
        return len(BENCHMARKS)


TASKS: Mapping[str, type[Benchmark]] = TaskClasses()


def task_class(name: str) -> type[Benchmark]:
    """The benchmark class for a task name (any case, ``_`` and ``-`` ignored); ValueError listing the
    known ones."""
    info = find_benchmark(name.strip())
    if info is None:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    return info.evaluator_class()


def make_benchmark(name: str, **options: Any) -> Benchmark:
    """Build a benchmark, passing only the options it accepts (task-specific ones are ignored by the
    others, so one option set can configure a whole run)."""
    cls = task_class(name)
    accepted = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            accepted |= set(inspect.signature(klass.__init__).parameters)
    return cls(**{k: v for k, v in options.items() if k in accepted and v is not None})


__all__ = ["TASKS", "Benchmark", "make_benchmark", "task_class"]
