"""Shared shape of the boxed-answer math benchmarks (AIME24, AIME25, AMC23, MATH500).

All four use Evalchemy's prompt ("Problem: ...\\nMark your solution with \\boxed\\nAnswer:"), extract
the last ``\\boxed{}`` and score with Hendrycks string equivalence against ``str(answer)``. Math-Verify
runs on the same outputs and is reported beside, under ``math_verify``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from thoughtmill.eval.benchmarks.base import Benchmark, pick
from thoughtmill.eval.benchmarks.stats import repeated_accuracy
from thoughtmill.eval.grading.boxed import extract_boxed_answer
from thoughtmill.eval.grading.hendrycks import is_equiv
from thoughtmill.eval.grading.mathverify import math_verify_equiv

PROMPT = "Problem: {problem}\nMark your solution with \\boxed\nAnswer:"


class MathBenchmark(Benchmark):
    """A boxed-answer math benchmark; subclasses name their data source and column names."""

    problem_columns: ClassVar[tuple[str, ...]] = ("problem", "question", "Problem", "Question")
    answer_columns: ClassVar[tuple[str, ...]] = ("answer", "expected_answer", "Answer")
    id_columns: ClassVar[tuple[str, ...]] = ("id", "ID", "unique_id", "problem_id")

    def prepare(self, row: dict[str, Any], *, where: str) -> dict[str, Any]:
        example = dict(row)
        example["problem"] = str(pick(row, self.problem_columns, where=where, field="problem"))
        example["answer"] = str(pick(row, self.answer_columns, where=where, field="answer"))
        for name in self.id_columns:
            if row.get(name) is not None:
                example["id"] = str(row[name])
                break
        return example

    def user_prompt(self, example: dict[str, Any]) -> str:
        return PROMPT.format(problem=example["problem"])

    def extract(self, output: str) -> str:
        return extract_boxed_answer(output)

    def judge(self, examples: list[dict[str, Any]]) -> tuple[list[list[bool]], list[list[bool]]]:
        """Per repeat, per question: Hendrycks verdicts and Math-Verify verdicts (also stored on each
        example as ``correct`` and ``math_verify_correct``)."""
        hendrycks = [[False] * len(examples) for _ in range(self.repeats)]
        verified = [[False] * len(examples) for _ in range(self.repeats)]
        for q, example in enumerate(examples):
            example["correct"] = []
            example["math_verify_correct"] = []
            for r in range(self.repeats):
                ok = is_equiv(example["answer"], example["model_answers"][r])
                mv = math_verify_equiv(example["answer"], example["model_outputs"][r])
                hendrycks[r][q], verified[r][q] = ok, mv
                example["correct"].append(ok)
                example["math_verify_correct"].append(mv)
        return hendrycks, verified

    def evaluate_responses(self, responses: dict[str, Any]) -> dict[str, Any]:
        examples = [dict(e) for e in responses["examples"]]
        hendrycks, verified = self.judge(examples)
        results: dict[str, Any] = {"examples": examples}
        results.update(repeated_accuracy(hendrycks, ddof=0))
        mv = repeated_accuracy(verified, ddof=0)
        results["math_verify"] = {k: mv[k] for k in ("accuracy_avg", "accuracy_std_err", "run_stats")}
        return results
