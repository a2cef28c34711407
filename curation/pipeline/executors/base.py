"""What an executor is: it runs a stage's shards somewhere and hands back their results.

datatrove's shape: a stage's work is split into shards, each a picklable call with no arguments
(``task() -> result``) that knows its own ``rank`` and ``world_size``; the executor only decides where
the calls run (this process, or a Ray cluster). Executors are a registry, looked up by the name in the
config's ``executor:`` key; adding one is a class plus ``@register_executor("name")``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from thoughtmill.curation.errors import ConfigError

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig
    from thoughtmill.curation.pipeline.executors.budgeted import Budget

R = TypeVar("R")


class Executor(ABC):
    """Runs shard tasks; ``shards`` is how many shards a sharded stage is cut into."""

    name: ClassVar[str]

    def __init__(self, *, shards: int | None = None, **options: Any) -> None:
        """``options``: the rest of the ``executor:`` section (settings of other executors are ignored)."""
        self.requested_shards = shards

    @property
    def shards(self) -> int:
        """The number of shards of a sharded stage (the config's ``executor.shards``, else a default)."""
        return self.requested_shards or self.default_shards()

    def default_shards(self) -> int:
        return 1

    def shard_cpus(self) -> float | None:
        """CPUs one shard is given, for what sizes itself to the machine (the code judge's sandboxes);
        None: the whole machine (shards run one at a time here)."""
        return None

    @abstractmethod
    def map(self, tasks: Sequence[Callable[[], R]]) -> list[R]:
        """Run every task (anywhere, in any order); their results in the order of ``tasks``."""

    def budget(self, teacher: TeacherConfig) -> Budget | None:
        """A requests/tokens budget shared by every shard, for a teacher with rpm/tpm limits (None:
        shards run one at a time here, so the engine's own limiter already holds)."""
        return None

    def close(self) -> None:
        """Release what the executor started (a Ray connection, budget actors)."""


EXECUTORS: dict[str, type[Executor]] = {}


def register_executor(name: str) -> Callable[[type[Executor]], type[Executor]]:
    """Class decorator: make ``executor: name`` in a pipeline config run on this class."""

    def add(cls: type[Executor]) -> type[Executor]:
        cls.name = name
        EXECUTORS[name] = cls
        return cls

    return add


def check_executor_name(name: str) -> str:
    """``name`` if an executor is registered under it, else an error listing the known ones."""
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    return name


def make_executor(name: str, **options: Any) -> Executor:
    """The executor registered as ``name``, built with the config's options (``shards``, ``address``...)."""
    try:
        cls = EXECUTORS[check_executor_name(name)]
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return cls(**options)
