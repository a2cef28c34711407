"""What every judge shares: the judgement record, the re-iterable row stream and the judge interface.

Judges are keyed by a verification key (row id + a hash of the answer), never by row position, so a
verdict recorded in the journal stays valid when the generated set is rebuilt in another order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from thoughtmill.curation.engine.backends import Backend
from thoughtmill.curation.engine.budget import RunBudget
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.schema import PROBLEM_COLUMNS

#: Columns a judge may read from a generated row: the problem and what the teacher answered.
JUDGE_COLUMNS = (*PROBLEM_COLUMNS, "deepseek_solution", "finish_reason")

#: How much of a program's stderr is kept in ``verification_detail``.
MAX_DETAIL_CHARS = 600


@dataclass
class Judgement:
    """One row's verification: ``verified`` is the only thing the filter reads."""

    verified: bool
    verdict: str
    method: str
    detail: dict[str, Any] = field(default_factory=dict)
    #: True when the judgement is not final (the judge model failed): a resumed run judges it again.
    retry: bool = False

    def detail_json(self) -> str:
        return json.dumps({"method": self.method, **self.detail}, ensure_ascii=False, default=str)


Rows = Iterable[dict[str, Any]]
#: how a judge's engine reaches a teacher: a backend to use, or None for the engine's own
BackendFor = Callable[[TeacherConfig], Backend | None]


@dataclass(frozen=True)
class JudgeResources:
    """What the pipeline hands a judge besides its config: its judge teacher (resolved), where the
    engine cache lives and a work folder."""

    teacher: TeacherConfig | None = None
    cache_root: Path | None = None
    #: the run's caches under other shard layouts, read through on a miss (see ``RunDir.earlier_caches``)
    earlier_caches: tuple[Path, ...] = ()
    work_dir: Path | None = None
    #: the backend a judge's engine uses for its teacher (None: the engine's own); a sharded run hands
    #: one drawing from the budget every shard shares
    backend_for: BackendFor | None = None
    #: the run's budget_usd, shared by its LLM judges one after another (None: no cap)
    budget: RunBudget | None = None
    #: CPUs the judge may keep busy (a Ray shard's share); None: the whole machine
    cpus: float | None = None


class Judge:
    """Judges one domain. ``judge`` takes a re-iterable stream of rows (each with ``_key``) and yields
    ``(key, Judgement)`` in any order; iterating the stream twice is allowed (a second pass for rows a
    cheap check could not decide)."""

    domain: ClassVar[str]

    @classmethod
    def build(cls, config: Any, resources: JudgeResources) -> Judge:
        """The judge for one run (judges that need no teacher or files take only their config)."""
        return cls(config)  # type: ignore[call-arg]

    @classmethod
    def preflight(cls, config: Any) -> None:
        """Raise if this judge cannot run here, checked when a run starts, before anything is paid for
        (the code judge: real isolation for untrusted code). Most judges need nothing."""

    def judge(self, rows: Rows) -> Iterator[tuple[str, Judgement]]:
        raise NotImplementedError


def short(text: str | None, limit: int = MAX_DETAIL_CHARS) -> str:
    """Head and tail of a long text (what a human needs to see why a row failed)."""
    text = text or ""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} [... {len(text) - limit} chars ...] {text[-half:]}"
