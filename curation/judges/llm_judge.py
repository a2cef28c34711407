"""An LLM judge through the engine: structured output ``{correct, reasoning}``, cached like generation.

The judge model is its own teacher config (``judge_teacher``), swappable like the generator. Its
answers land in the same engine cache, so a re-run or a resumed run never pays twice for a verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from thoughtmill.curation.engine import LLM
from thoughtmill.curation.engine.backends import Backend
from thoughtmill.curation.engine.budget import RunBudget
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.judges.base import BackendFor, Judge, Judgement, JudgeResources, Rows, short

JUDGE_SYSTEM_PROMPT = (
    "You are a strict grader. You compare a candidate's final answer with a reference answer and decide "
    "whether they are equivalent. Ignore differences of form (1/2 vs 0.5, order of a set, units written "
    "out); judge only whether the final result is the same."
)


class JudgeVerdict(BaseModel):
    correct: bool
    reasoning: str


class AnswerJudge(LLM):
    """Asks the judge model whether a solution's final answer matches the reference."""

    system_prompt = JUDGE_SYSTEM_PROMPT
    response_format = JudgeVerdict

    def prompt(self, row: dict[str, Any]) -> str:
        return (
            f"Problem:\n{row['problem']}\n\n"
            f"Reference answer or solution:\n{row['ground_truth_solution']}\n\n"
            f"Candidate solution:\n{row['deepseek_solution']}\n\n"
            "Is the candidate's final answer equivalent to the reference? Reply with JSON "
            '{"correct": true|false, "reasoning": "<one or two sentences>"}.'
        )

    def parse(self, row: dict[str, Any], response: Any) -> dict[str, Any]:
        verdict: JudgeVerdict = response.parsed
        return {"_key": row["_key"], "correct": verdict.correct, "reasoning": verdict.reasoning}


def run_llm_judge(
    rows: Iterable[dict[str, Any]],
    teacher: TeacherConfig,
    *,
    cache_root: Path,
    output_dir: Path,
    name: str,
    earlier_caches: Sequence[Path] = (),
    extra: dict[str, Any] | None = None,
    backend: Backend | None = None,
    budget: RunBudget | None = None,
) -> Iterator[tuple[str, Judgement]]:
    """Judge ``rows``; a row whose judge call failed (or was not sent: the run's budget) gets a
    ``judge_failed`` verdict marked for retry."""
    asked: set[str] = set()

    def feed() -> Iterator[dict[str, Any]]:
        for row in rows:
            asked.add(row["_key"])
            yield {
                k: row.get(k) or "" for k in ("_key", "problem", "ground_truth_solution", "deepseek_solution")
            }

    judge = AnswerJudge(
        teacher,
        working_dir=cache_root,
        earlier_caches=earlier_caches,
        name=name,
        progress=False,
        backend=backend,
        budget_usd=budget.remaining() if budget is not None else None,
    )
    try:
        result = judge(feed(), output_dir=output_dir)
    except InputError:
        if asked:
            raise
        return  # nothing to judge
    answered: set[str] = set()
    for batch in result.iter(batch_size=512):
        for key, correct, reasoning in zip(batch["_key"], batch["correct"], batch["reasoning"]):
            answered.add(key)
            detail = {"judge": teacher.label, "reasoning": short(reasoning), **(extra or {}).get(key, {})}
            yield key, Judgement(bool(correct), "correct" if correct else "incorrect", "llm_judge", detail)
    stats = judge.last_run.stats if judge.last_run else None
    if budget is not None and stats is not None:
        budget.spent_usd += stats.total_cost_usd
    failures = str(judge.last_run.paths.failures) if judge.last_run else ""
    error = f"the judge call failed; see {failures}"
    if stats is not None and stats.not_sent_budget:
        error = (
            "not sent or failed: the run's budget_usd was reached (raise it and run again), or see "
            + failures
        )
    for key in asked - answered:
        detail = {"judge": teacher.label, "error": error}
        yield key, Judgement(False, "judge_failed", "llm_judge", detail, retry=True)


class TeacherJudge(Judge):
    """A judge that may ask a judge model (its own teacher config), with its cache and work files."""

    def __init__(
        self,
        config: Any,
        judge_teacher: TeacherConfig | None,
        *,
        cache_root: Path | None,
        work_dir: Path | None,
        backend_for: BackendFor | None = None,
        budget: RunBudget | None = None,
        earlier_caches: Sequence[Path] = (),
    ) -> None:
        self.config = config
        self.teacher = judge_teacher
        self.cache_root = cache_root
        self.earlier_caches = tuple(earlier_caches)
        self.work_dir = work_dir
        self.backend_for = backend_for
        self.budget = budget

    @classmethod
    def build(cls, config: Any, resources: JudgeResources) -> TeacherJudge:
        return cls(
            config,
            resources.teacher,
            cache_root=resources.cache_root,
            work_dir=resources.work_dir,
            backend_for=resources.backend_for,
            budget=resources.budget,
            earlier_caches=resources.earlier_caches,
        )

    def llm_judge(
        self, rows: Rows, extra: dict[str, dict[str, Any]] | None = None
    ) -> Iterator[tuple[str, Judgement]]:
        """Ask the judge model about each row (cached by the engine; one work folder per domain)."""
        assert self.teacher is not None, "config validation requires judge_teacher for judge modes"
        assert self.cache_root is not None and self.work_dir is not None, "an LLM judge needs its folders"
        name = f"{self.domain}-judge"
        yield from run_llm_judge(
            rows,
            self.teacher,
            cache_root=self.cache_root,
            earlier_caches=self.earlier_caches,
            output_dir=self.work_dir / name,
            name=name,
            extra=extra,
            backend=self.backend_for(self.teacher) if self.backend_for else None,
            budget=self.budget,
        )
