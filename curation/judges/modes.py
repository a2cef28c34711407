"""Judges that decide by a configured mode (math, puzzle, science): the mode is looked up in the
domain's registered modes, never an if-branch, and checked when the config loads.

``LLM_JUDGE`` is the mode every such domain offers: the judge model alone (``mode: judge``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator
from thoughtmill.curation.engine.config import StrictModel
from thoughtmill.curation.judges.base import Judgement, Rows
from thoughtmill.curation.judges.llm_judge import TeacherJudge
from thoughtmill.curation.judges.registry import DOMAINS, Mode, get_mode
from thoughtmill.curation.teachers import TeacherSpec


class ModeConfig(StrictModel):
    """A ``stages.verify.<domain>`` section that picks a judging mode; subclasses set ``domain`` and
    the default ``mode``. An unknown mode, or a mode that asks a judge model without
    ``judge_teacher``, is an error when the config loads."""

    domain: ClassVar[str]

    mode: str
    judge_teacher: TeacherSpec | None = Field(None, description="teacher config of the LLM judge")

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        modes = DOMAINS[cls.domain].modes if cls.domain in DOMAINS else {}
        if value not in modes:
            raise ValueError(f"unknown mode {value!r}; known modes: {', '.join(sorted(modes))}")
        return value

    @model_validator(mode="after")
    def _judge_teacher(self) -> ModeConfig:
        if get_mode(self.domain, self.mode).needs_teacher and self.judge_teacher is None:
            raise ValueError(
                f"judge_teacher is required when mode is {self.mode!r} (a teacher name, YAML path or mapping)"
            )
        return self


class ModeJudge(TeacherJudge):
    """Runs the configured mode of its domain."""

    config: ModeConfig

    def judge(self, rows: Rows) -> Iterator[tuple[str, Judgement]]:
        yield from get_mode(self.domain, self.config.mode).run(self, rows)


def _ask_the_judge_model(judge: Any, rows: Rows) -> Iterator[tuple[str, Judgement]]:
    yield from judge.llm_judge(rows)


LLM_JUDGE = Mode(
    "judge", _ask_the_judge_model, needs_teacher=True, description="the LLM judge (judge_teacher) alone"
)
