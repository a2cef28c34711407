"""The benchmark registry: task name (as Evalchemy spells it) -> benchmark class."""

from __future__ import annotations

from typing import Any

from thoughtmill.eval.benchmarks.aime24 import AIME24
from thoughtmill.eval.benchmarks.aime25 import AIME25
from thoughtmill.eval.benchmarks.amc23 import AMC23
from thoughtmill.eval.benchmarks.base import Benchmark
from thoughtmill.eval.benchmarks.gpqa_diamond import GPQADiamond
from thoughtmill.eval.benchmarks.livecodebench import LiveCodeBench
from thoughtmill.eval.benchmarks.math500 import MATH500

TASKS: dict[str, type[Benchmark]] = {
    cls.name: cls for cls in (AIME24, AIME25, AMC23, MATH500, GPQADiamond, LiveCodeBench)
}


def task_class(name: str) -> type[Benchmark]:
    """The benchmark class for a task name (case-insensitive); ValueError listing the known ones."""
    for known, cls in TASKS.items():
        if known.lower() == name.strip().lower():
            return cls
    raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")


def make_benchmark(name: str, **options: Any) -> Benchmark:
    """Build a benchmark, passing only the options it accepts (task-specific ones are ignored by the
    others, so one option set can configure a whole run)."""
    import inspect

    cls = task_class(name)
    accepted = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            accepted |= set(inspect.signature(klass.__init__).parameters)
    return cls(**{k: v for k, v in options.items() if k in accepted and v is not None})


__all__ = ["TASKS", "Benchmark", "make_benchmark", "task_class"]
