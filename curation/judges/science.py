"""Science judge: pass-through (as published: CAMEL answers are not checked) or the LLM judge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curation.engine.config import TeacherConfig
from curation.judges.base import Judge, Judgement, Rows
from curation.judges.llm_judge import run_llm_judge
from curation.pipeline.config import ScienceJudgeConfig


class ScienceJudge(Judge):
    domain = "science"

    def __init__(
        self, config: ScienceJudgeConfig, judge_teacher: TeacherConfig | None, *, cache_root: Path, work_dir: Path
    ) -> None:
        self.config = config
        self.teacher = judge_teacher
        self.cache_root = cache_root
        self.work_dir = work_dir

    def judge(self, rows: Rows) -> Iterator[tuple[str, Judgement]]:
        if self.config.mode == "judge":
            assert self.teacher is not None
            yield from run_llm_judge(
                rows, self.teacher, cache_root=self.cache_root, output_dir=self.work_dir / "science-judge",
                name="science-judge",
            )  # fmt: skip
            return
        for row in rows:
            if (row.get("deepseek_solution") or "").strip():
                yield row["_key"], Judgement(True, "pass_through", "pass_through", {})
            else:
                yield row["_key"], Judgement(False, "empty_answer", "pass_through", {})
