"""Science judge: pass-through (as published: CAMEL answers are not checked) or the LLM judge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from thoughtmill.curation.judges.base import Judgement, Rows
from thoughtmill.curation.judges.modes import LLM_JUDGE, ModeConfig, ModeJudge
from thoughtmill.curation.judges.registry import Domain, Mode, register_domain, register_mode


class ScienceJudgeConfig(ModeConfig):
    domain: ClassVar[str] = "science"
    mode: str = "pass_through"


class ScienceJudge(ModeJudge):
    domain = "science"


def pass_through(judge: Any, rows: Rows) -> Iterator[tuple[str, Judgement]]:
    """Every non-empty answer is kept (the published recipe does not check CAMEL answers)."""
    for row in rows:
        if (row.get("deepseek_solution") or "").strip():
            yield row["_key"], Judgement(True, "pass_through", "pass_through", {})
        else:
            yield row["_key"], Judgement(False, "empty_answer", "pass_through", {})


register_domain(Domain("science", judge=ScienceJudge, config=ScienceJudgeConfig))
register_mode("science", Mode("pass_through", pass_through, description="keep every non-empty answer"))
register_mode("science", LLM_JUDGE)
