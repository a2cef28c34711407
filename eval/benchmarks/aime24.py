"""AIME 2024: 30 problems, 5 samples each by default (Evalchemy's ``AIME24``)."""

from __future__ import annotations

from thoughtmill.eval.benchmarks.math_base import MathBenchmark


class AIME24(MathBenchmark):
    """Columns ``Problem``, ``Answer``, ``ID`` (the Hub's Maxwell-Jia/AIME_2024, the same 30 problems as
    Evalchemy's aime24.json) or Evalchemy's ``problem`` and ``expected_answer``/``answer``."""

    name = "AIME24"
    default_repeats = 5
