"""What every judge shares: the judgement record, the re-iterable row stream and the judge interface.

Judges are keyed by a verification key (row id + a hash of the answer), never by row position, so a
verdict recorded in the journal stays valid when the generated set is rebuilt in another order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

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


class Judge:
    """Judges one domain. ``judge`` takes a re-iterable stream of rows (each with ``_key``) and yields
    ``(key, Judgement)`` in any order; iterating the stream twice is allowed (a second pass for rows a
    cheap check could not decide)."""

    domain: ClassVar[str]

    def judge(self, rows: Rows) -> Iterator[tuple[str, Judgement]]:
        raise NotImplementedError


class TeacherJudge(Judge):
    """A judge that may ask a judge model (its own teacher config), with its cache and work files."""

    def __init__(
        self, config: Any, judge_teacher: TeacherConfig | None, *, cache_root: Path, work_dir: Path
    ) -> None:
        self.config = config
        self.teacher = judge_teacher
        self.cache_root = cache_root
        self.work_dir = work_dir

    def llm_judge(
        self, rows: Rows, extra: dict[str, dict[str, Any]] | None = None
    ) -> Iterator[tuple[str, Judgement]]:
        """Ask the judge model about each row (cached by the engine; one work folder per domain)."""
        from thoughtmill.curation.judges.llm_judge import run_llm_judge  # llm_judge imports this module

        assert self.teacher is not None, "config validation requires judge_teacher for judge modes"
        name = f"{self.domain}-judge"
        yield from run_llm_judge(
            rows,
            self.teacher,
            cache_root=self.cache_root,
            output_dir=self.work_dir / name,
            name=name,
            extra=extra,
        )


def short(text: str | None, limit: int = MAX_DETAIL_CHARS) -> str:
    """Head and tail of a long text (what a human needs to see why a row failed)."""
    text = text or ""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} [... {len(text) - limit} chars ...] {text[-half:]}"
