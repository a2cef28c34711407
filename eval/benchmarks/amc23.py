"""AMC 2023: 40 problems, 5 samples each by default (Evalchemy's ``AMC23``)."""

from __future__ import annotations

from thoughtmill.eval.benchmarks.math_base import MathBenchmark


class AMC23(MathBenchmark):
    """Columns ``question`` and ``answer`` (an int or a LaTeX string; compared as ``str(answer)``)."""

    name = "AMC23"
    default_repeats = 5
