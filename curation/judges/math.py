"""Math judge: Math-Verify (symbolic comparison of boxed answers), an LLM judge, or Math-Verify first.

Modes:
- ``math_verify``: Math-Verify alone; an answer it cannot extract is ``no_answer`` (not verified).
- ``judge``: the LLM judge alone.
- ``math_verify_then_judge``: Math-Verify decides what it confirms; the rows it calls different or
  cannot read (where it disagrees with the teacher, or is undecided) go to the LLM judge, because
  Math-Verify's misses are mostly false negatives of form. ``method`` in the detail says who decided.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, ClassVar

from pydantic import Field
from thoughtmill.curation.judges.base import Judgement, Rows, short
from thoughtmill.curation.judges.modes import LLM_JUDGE, ModeConfig, ModeJudge
from thoughtmill.curation.judges.registry import Domain, Mode, register_domain, register_mode
from thoughtmill.execution.scheduler import BoundedScheduler, chunked, first_completed

_CHUNK = 256


def math_verify_one(solution: str, ground_truth: str, timeout_s: int | None = 5) -> Judgement:
    """Compare a solution's final answer with the ground truth's (boxed answers preferred)."""
    from math_verify import parse, verify

    if threading.current_thread() is not threading.main_thread():
        timeout_s = None  # Math-Verify's timeout uses SIGALRM, which only the main thread may set
    if not (ground_truth or "").strip():
        return Judgement(False, "no_ground_truth", "math_verify", {"error": "the row has no ground truth"})
    gold = parse(ground_truth, parsing_timeout=timeout_s)
    if not gold:
        return Judgement(
            False, "no_ground_truth", "math_verify", {"error": "no answer found in the ground truth"}
        )
    answer = parse(solution or "", parsing_timeout=timeout_s)
    detail = {"gold": short(str(gold[-1]), 200), "answer": short(str(answer[-1]), 200) if answer else None}
    if not answer:
        return Judgement(False, "no_answer", "math_verify", detail)
    ok = verify(gold, answer, timeout_seconds=timeout_s)
    return Judgement(bool(ok), "correct" if ok else "incorrect", "math_verify", detail)


def _verify_chunk(items: list[tuple[str, str, str]], timeout_s: int) -> list[tuple[str, Judgement]]:
    return [(key, math_verify_one(sol, gold, timeout_s)) for key, sol, gold in items]


class MathJudgeConfig(ModeConfig):
    domain: ClassVar[str] = "math"
    mode: str = "math_verify"
    workers: int = Field(1, ge=1, description="processes running Math-Verify")
    timeout_s: int = Field(5, ge=1, description="Math-Verify parse/compare timeout per row")


class MathJudge(ModeJudge):
    domain = "math"

    config: MathJudgeConfig

    def math_verify(self, rows: Rows) -> Iterator[tuple[str, Judgement]]:
        items = (
            (r["_key"], r.get("deepseek_solution") or "", r.get("ground_truth_solution") or "") for r in rows
        )
        if self.config.workers <= 1:
            for key, sol, gold in items:
                yield key, math_verify_one(sol, gold, self.config.timeout_s)
            return
        yield from _parallel(items, self.config.workers, self.config.timeout_s)


def math_verify_alone(judge: MathJudge, rows: Rows) -> Iterator[tuple[str, Judgement]]:
    yield from judge.math_verify(rows)


def math_verify_then_judge(judge: MathJudge, rows: Rows) -> Iterator[tuple[str, Judgement]]:
    """Math-Verify's confirmations stand; what it rejects or cannot read goes to the LLM judge."""
    undecided: dict[str, dict[str, Any]] = {}
    for key, judgement in judge.math_verify(rows):
        if not judgement.verified and judgement.verdict != "no_ground_truth":
            undecided[key] = {"math_verify": judgement.verdict}
            continue
        yield key, judgement
    if undecided:
        yield from judge.llm_judge((r for r in rows if r["_key"] in undecided), undecided)


def _parallel(
    items: Iterator[tuple[str, str, str]], workers: int, timeout_s: int
) -> Iterator[tuple[str, Judgement]]:
    """Chunks of rows through a process pool, at most ``2 * workers`` chunks in flight."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        scheduler = BoundedScheduler(
            lambda chunk: pool.submit(_verify_chunk, chunk, timeout_s), first_completed, 2 * workers
        )
        for _chunk, judgements in scheduler.run(chunked(items, _CHUNK)):
            yield from judgements


register_domain(Domain("math", judge=MathJudge, config=MathJudgeConfig))
register_mode("math", Mode("math_verify", math_verify_alone, description="Math-Verify alone"))
register_mode("math", LLM_JUDGE)
register_mode(
    "math",
    Mode(
        "math_verify_then_judge",
        math_verify_then_judge,
        needs_teacher=True,
        description="Math-Verify, then the LLM judge for what it rejects",
    ),
)
