"""Science judge: pass-through (as published: CAMEL answers are not checked) or the LLM judge."""

from __future__ import annotations

from collections.abc import Iterator

from thoughtmill.curation.judges.base import Judgement, Rows, TeacherJudge
from thoughtmill.curation.pipeline.config import ScienceJudgeConfig


class ScienceJudge(TeacherJudge):
    domain = "science"

    config: ScienceJudgeConfig

    def judge(self, rows: Rows) -> Iterator[tuple[str, Judgement]]:
        if self.config.mode == "judge":
            yield from self.llm_judge(rows)
            return
        for row in rows:
            if (row.get("deepseek_solution") or "").strip():
                yield row["_key"], Judgement(True, "pass_through", "pass_through", {})
            else:
                yield row["_key"], Judgement(False, "empty_answer", "pass_through", {})
