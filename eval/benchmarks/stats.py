"""Per-repeat accuracy statistics in Evalchemy's layout (``run_stats``, ``accuracy_avg``, ...).

Evalchemy's math and GPQA tasks divide the *population* standard deviation (``np.std``, ddof=0) by
sqrt(n); its LiveCodeBench task uses the *sample* deviation (ddof=1). Each benchmark says which it uses.
With a single repeat the sample deviation is undefined and 0.0 is reported.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def std_err(values: Sequence[float], ddof: int = 0) -> float:
    """Standard error of the mean of per-repeat accuracies."""
    n = len(values)
    if n == 0 or n - ddof <= 0:
        return 0.0
    spread = statistics.pstdev(values) if ddof == 0 else statistics.stdev(values)
    return spread / math.sqrt(n)


def repeated_accuracy(correct_by_repeat: Sequence[Sequence[bool]], ddof: int = 0) -> dict[str, Any]:
    """``run_stats`` and the summary numbers from one list of per-question verdicts per repeat."""
    run_stats = []
    for index, verdicts in enumerate(correct_by_repeat):
        total = len(verdicts)
        solved = sum(bool(v) for v in verdicts)
        run_stats.append(
            {
                "repetition": index + 1,
                "num_total": total,
                "num_solved": solved,
                "accuracy": solved / total if total else 0.0,
            }
        )
    accuracies = [r["accuracy"] for r in run_stats]
    return {
        "num_total": run_stats[0]["num_total"] if run_stats else 0,
        "solved_avg": statistics.fmean(r["num_solved"] for r in run_stats) if run_stats else 0.0,
        "run_stats": run_stats,
        "accuracy_avg": statistics.fmean(accuracies) if accuracies else 0.0,
        "accuracy_std_err": std_err(accuracies, ddof=ddof),
        "num_repeat": len(run_stats),
    }
