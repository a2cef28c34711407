"""LiveCodeBench (release v2, 511 problems): 3 samples each by default, per-difficulty scores.

Prompt and extraction follow Evalchemy's ``LiveCodeBench`` task: the instruction is glued to the
question text, the answer is the last fenced code block, and a sample passes only if it passes *every*
hidden (private) test. Tests run through thoughtmill's sandboxed ``execution`` package instead of an
in-process ``exec``; call-based problems are judged through the problem's declared function name (as
the official LiveCodeBench harness does), not through the first name found in the completion.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from thoughtmill.eval.benchmarks.base import Benchmark
from thoughtmill.eval.benchmarks.stats import repeated_accuracy, std_err
from thoughtmill.eval.data.lcb import normalise_lcb_row
from thoughtmill.eval.grading.code import extract_final_code

from thoughtmill.benchmarks import lcb_location

logger = logging.getLogger(__name__)

STDIN_INSTRUCTION = (
    "Generate an executable Python function generated from the given prompt. The function should take "
    "stdin as input and print the output. Simply call the function after the definition."
)
CALL_INSTRUCTION = (
    "Generate an executable Python function generated from the given prompt. Return the function body "
    "without invoking it at the final solution."
)


class LiveCodeBench(Benchmark):
    """Raw hub rows (``question_content``, ``private_test_cases``, ...) or Evalchemy's processed rows."""

    name = "LiveCodeBench"
    default_repeats = 3

    def __init__(
        self,
        *,
        release: str = "release_v2",
        include_public_tests: bool = False,
        limits: Any = None,
        workers: int | None = None,
        **kwargs: Any,
    ) -> None:
        location = lcb_location(release)  # a ValueError naming the known releases
        kwargs["hub"] = kwargs.get("hub") or location
        super().__init__(**kwargs)
        self.release = release
        self.include_public_tests = include_public_tests
        self.limits = limits
        self.workers = workers

    def prepare(self, row: dict[str, Any], *, where: str) -> dict[str, Any]:
        return normalise_lcb_row(row, where=where)

    def user_prompt(self, example: dict[str, Any]) -> str:
        instruction = STDIN_INSTRUCTION if example["is_stdin"] else CALL_INSTRUCTION
        return instruction + example["question_content"]

    def extract(self, output: str) -> str:
        return extract_final_code(output)

    def test_cases(self, example: dict[str, Any]) -> dict[str, Any]:
        tests = list(example["tests"])
        if self.include_public_tests:
            tests = list(example.get("public_tests") or []) + tests
        cases: dict[str, Any] = {"tests": tests}
        if example.get("fn_name"):
            cases["fn_name"] = example["fn_name"]
        return cases

    def run_all(self, items: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
        """Verdicts by item id, through the sandbox (imported here: math-only use needs no sandbox)."""
        if not items:
            return {}
        from thoughtmill.execution import Limits, run_batch

        limits = self.limits
        if limits is None:
            # Evalchemy: 6 s per test and (6 + 1) * tests + 5 s for the whole solution
            most = max(len(cases["tests"]) for _, _, cases in items)
            limits = Limits(time_s=6.0, total_time_s=max(120.0, 7.0 * most + 5.0))
        return dict(run_batch(items, limits=limits, workers=self.workers))

    def evaluate_responses(self, responses: dict[str, Any]) -> dict[str, Any]:
        examples = [dict(e) for e in responses["examples"]]
        items, reasons = [], {}
        for q, example in enumerate(examples):
            cases = self.test_cases(example)
            for r in range(self.repeats):
                code = example["model_answers"][r]
                key = f"{q}/{r}"
                if not code.strip():
                    reasons[key] = "no code block"
                elif not cases["tests"]:
                    reasons[key] = "problem has no tests"
                else:
                    items.append((key, code, cases))
        verdicts = self.run_all(items)
        per_repeat: list[list[bool]] = [[False] * len(examples) for _ in range(self.repeats)]
        for q, example in enumerate(examples):
            example["correct"], example["verdicts"] = [], []
            for r in range(self.repeats):
                key = f"{q}/{r}"
                verdict = verdicts.get(key)
                ok = bool(verdict is not None and verdict.accepted)
                per_repeat[r][q] = ok
                example["correct"].append(ok)
                example["verdicts"].append(_verdict_summary(verdict, reasons.get(key)))
            example["num_tests"] = len(example.pop("tests"))
            example.pop("public_tests", None)
        return self.summarise(examples, per_repeat)

    def summarise(self, examples: list[dict[str, Any]], per_repeat: list[list[bool]]) -> dict[str, Any]:
        """Evalchemy's LiveCodeBench numbers: overall and per-difficulty mean and (ddof=1) std error."""
        difficulties = _ordered(e["difficulty"] for e in examples)
        raw_metrics = []
        for verdicts in per_repeat:
            correct: dict[str, int] = defaultdict(int)
            total: dict[str, int] = defaultdict(int)
            for example, ok in zip(examples, verdicts, strict=True):
                correct[example["difficulty"]] += int(ok)
                total[example["difficulty"]] += 1
            metrics: dict[str, Any] = {
                "total_correct": sum(verdicts),
                "total_finish": len(verdicts),
                "accuracy": sum(verdicts) / len(verdicts) if verdicts else 0.0,
                "per_difficulty_correct": {d: correct[d] for d in difficulties},
                "per_difficulty_total": {d: total[d] for d in difficulties},
            }
            for d in difficulties:
                metrics[f"accuracy_{d}"] = correct[d] / total[d]
            raw_metrics.append(metrics)
        results: dict[str, Any] = {"examples": examples}
        results.update(repeated_accuracy(per_repeat, ddof=1))
        for d in difficulties:
            values = [m[f"accuracy_{d}"] for m in raw_metrics]
            results[f"accuracy_{d}_avg"] = sum(values) / len(values)
            results[f"accuracy_{d}_std_err"] = std_err(values, ddof=1)
        results["raw_metrics"] = raw_metrics
        return results

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "release": self.release,
            "tests": "private+public" if self.include_public_tests else "private",
            "limits": _limits_dict(self.limits),
        }


def _ordered(values: Iterable[str]) -> list[str]:
    known = ["easy", "medium", "hard"]
    seen = list(dict.fromkeys(values))
    return [d for d in known if d in seen] + sorted(d for d in seen if d not in known)


def _verdict_summary(verdict: Any, reason: str | None) -> dict[str, Any]:
    if verdict is None:
        return {"status": "not_run", "reason": reason or "not run"}
    status = getattr(verdict, "status", None)
    return {
        "status": getattr(status, "value", status),
        "passed": getattr(verdict, "passed", None),
        "total": getattr(verdict, "total", None),
    }


def _limits_dict(limits: Any) -> Any:
    if limits is None:
        return {"time_s": 6.0, "total_time_s": "max(120, 7 * tests + 5)"}
    for method in ("to_dict", "model_dump"):
        if hasattr(limits, method):
            return getattr(limits, method)()
    if hasattr(limits, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(limits)
    return repr(limits)
