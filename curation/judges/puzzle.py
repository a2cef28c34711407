"""Puzzle judge: the answer's chosen letter against the answer key (RiddleSense), or the LLM judge.

The letter is read, in order of trust, from ``\\boxed{X}``, an "answer is X" / "Answer: X" phrase,
then a final line that starts with the letter. An answer naming no letter is ``no_answer``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from thoughtmill.curation.judges.base import Judgement, Rows
from thoughtmill.curation.judges.modes import LLM_JUDGE, ModeConfig, ModeJudge
from thoughtmill.curation.judges.registry import Domain, Mode, register_domain, register_mode

_LETTER = r"\(?([A-E])\)?"
_PATTERNS = (
    re.compile(r"\\boxed\{\s*(?:\\text\{)?\s*" + _LETTER + r"\b"),
    re.compile(r"answer\s*(?:is|:)\s*\**\s*(?:option\s*)?" + _LETTER + r"(?![A-Za-z])", re.IGNORECASE),
    re.compile(r"^\W*" + _LETTER + r"\s*[:.)]", re.MULTILINE),
)


def extract_choice(text: str | None) -> str | None:
    """The last letter A-E the answer commits to, by the most trusted pattern that finds one."""
    for pattern in _PATTERNS:
        found = pattern.findall(text or "")
        if found:
            return found[-1].upper()
    return None


class PuzzleJudgeConfig(ModeConfig):
    domain: ClassVar[str] = "puzzle"
    mode: str = "answer_key"


class PuzzleJudge(ModeJudge):
    domain = "puzzle"


def answer_key(judge: Any, rows: Rows) -> Iterator[tuple[str, Judgement]]:
    """The letter the answer commits to against the row's answer key."""
    for row in rows:
        key = (row.get("ground_truth_solution") or "").strip().upper()
        chosen = extract_choice(row.get("deepseek_solution"))
        detail = {"answer_key": key, "chosen": chosen}
        if not key:
            yield row["_key"], Judgement(False, "no_ground_truth", "answer_key", detail)
        elif chosen is None:
            yield row["_key"], Judgement(False, "no_answer", "answer_key", detail)
        else:
            ok = chosen == key
            yield row["_key"], Judgement(ok, "correct" if ok else "incorrect", "answer_key", detail)


register_domain(Domain("puzzle", judge=PuzzleJudge, config=PuzzleJudgeConfig))
register_mode("puzzle", Mode("answer_key", answer_key, description="the chosen letter against the key"))
register_mode("puzzle", LLM_JUDGE)
