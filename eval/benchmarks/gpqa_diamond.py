"""GPQA-Diamond: 198 four-way multiple-choice questions, 3 samples each by default.

Prompt, option string (``"A) ..., B) ..., C) ..., D) ..."``), letter extraction and scoring follow
Evalchemy's ``GPQADiamond``. The option order does not: Evalchemy shuffles every question with a fresh
``random.Random(42)``, so the same permutation is applied to every question and the correct answer is
always the same letter. Here each question gets its own permutation, seeded from the base seed and a
hash of the question text, so it is reproducible across runs and machines yet varies across questions.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from thoughtmill.eval.benchmarks.base import Benchmark, pick
from thoughtmill.eval.benchmarks.stats import repeated_accuracy
from thoughtmill.eval.grading.multiple_choice import extract_choice_letter

PROMPT = (
    "Return your final response within \\boxed{{}} and only include the letter choice (A, B, C, or D) "
    "as your final response.\nProblem: {problem}\nOptions: {options}\nAnswer:"
)
LETTERS = ("A", "B", "C", "D")


def shuffle_seed(question: str, base_seed: int) -> int:
    """The per-question shuffle seed: stable (sha256, not Python's salted ``hash``) and distinct."""
    digest = hashlib.sha256(f"{base_seed}\x00{question}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def shuffled_options(
    question: str, correct: str, incorrect: list[str], base_seed: int
) -> tuple[list[str], str]:
    """The four options in this question's order, and the letter of the correct one."""
    options = [correct, *incorrect]
    order = list(range(4))
    random.Random(shuffle_seed(question, base_seed)).shuffle(order)
    ordered = [options[i] for i in order]
    return ordered, LETTERS[order.index(0)]


class GPQADiamond(Benchmark):
    """Columns ``Question``, ``Correct Answer``, ``Incorrect Answer 1..3`` (Idavidrein/gpqa layout)."""

    name = "GPQADiamond"
    default_repeats = 3

    def __init__(self, *, shuffle_seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shuffle_base_seed = shuffle_seed

    def prepare(self, row: dict[str, Any], *, where: str) -> dict[str, Any]:
        question = str(pick(row, ("Question", "question"), where=where, field="question"))
        correct = str(pick(row, ("Correct Answer",), where=where, field="correct answer")).strip()
        incorrect = [
            str(pick(row, (f"Incorrect Answer {i}",), where=where, field=f"incorrect answer {i}")).strip()
            for i in (1, 2, 3)
        ]
        options, letter = shuffled_options(question, correct, incorrect, self.shuffle_base_seed)
        example = {k: v for k, v in row.items() if isinstance(v, str | int | float | bool) or v is None}
        example.update(
            {
                "Question": question,
                "options": options,
                "multiple_choice_string": ", ".join(
                    f"{L}) {o}" for L, o in zip(LETTERS, options, strict=True)
                ),
                "answer": letter,
            }
        )
        if row.get("Record ID"):
            example["id"] = str(row["Record ID"])
        return example

    def user_prompt(self, example: dict[str, Any]) -> str:
        return PROMPT.format(problem=example["Question"], options=example["multiple_choice_string"])

    def extract(self, output: str) -> str:
        return extract_choice_letter(output)

    def evaluate_responses(self, responses: dict[str, Any]) -> dict[str, Any]:
        examples = [dict(e) for e in responses["examples"]]
        verdicts = [[False] * len(examples) for _ in range(self.repeats)]
        for q, example in enumerate(examples):
            example["correct"] = [example["answer"] == a for a in example["model_answers"][: self.repeats]]
            for r, ok in enumerate(example["correct"]):
                verdicts[r][q] = ok
        results: dict[str, Any] = {"examples": examples}
        results.update(repeated_accuracy(verdicts, ddof=0))
        return results

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "option_shuffle": "per-question sha256 seed",
            "shuffle_seed": self.shuffle_base_seed,
        }
