"""Puzzle judge: the answer's chosen letter against the answer key (RiddleSense), or the LLM judge.

The letter is read, in order of trust, from ``\\boxed{X}``, an "answer is X" / "Answer: X" phrase,
then a final line that starts with the letter. An answer naming no letter is ``no_answer``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from thoughtmill.curation.judges.base import Judgement, Rows, TeacherJudge
from thoughtmill.curation.pipeline.config import PuzzleJudgeConfig

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


class PuzzleJudge(TeacherJudge):
    domain = "puzzle"

    config: PuzzleJudgeConfig

    def judge(self, rows: Rows) -> Iterator[tuple[str, Judgement]]:
        if self.config.mode == "judge":
            yield from self.llm_judge(rows)
            return
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
