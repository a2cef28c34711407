"""AIME 2025: 30 problems, 5 samples each by default (Evalchemy's ``AIME25``)."""

from __future__ import annotations

from thoughtmill.eval.benchmarks.math_base import MathBenchmark


class AIME25(MathBenchmark):
    """Columns ``problem`` and ``answer`` (Evalchemy's aime25.json)."""

    name = "AIME25"
    default_repeats = 5
