"""MATH-500: one sample per problem by default, reported as ``accuracy`` like Evalchemy's ``MATH500``.

With more repeats (``--repeats``) the repeated layout (``accuracy_avg``, ``run_stats``) is added and
``accuracy`` is their mean.
"""

from __future__ import annotations

from typing import Any

from thoughtmill.eval.benchmarks.math_base import MathBenchmark


class MATH500(MathBenchmark):
    """Columns ``problem``, ``answer``, ``unique_id``, ``subject``, ``level`` (HuggingFaceH4/MATH-500)."""

    name = "MATH500"
    default_repeats = 1

    def evaluate_responses(self, responses: dict[str, Any]) -> dict[str, Any]:
        results = super().evaluate_responses(responses)
        for example in results["examples"]:
            example["model_output"] = example["model_outputs"][0]
            example["model_answer"] = example["model_answers"][0]
        if self.repeats == 1:
            single = results["run_stats"][0]
            results = {
                "examples": results["examples"],
                "num_total": single["num_total"],
                "num_solved": single["num_solved"],
                "accuracy": single["accuracy"],
                "math_verify": {"accuracy": results["math_verify"]["accuracy_avg"]},
            }
        else:
            results["accuracy"] = results["accuracy_avg"]
        return results
