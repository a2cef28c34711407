"""AIME 2024: 30 problems, 5 samples each by default (Evalchemy's ``AIME24``)."""

from __future__ import annotations

from thoughtmill.eval.benchmarks.math_base import MathBenchmark
from thoughtmill.eval.data import HubSource


class AIME24(MathBenchmark):
    """Columns ``problem`` and ``expected_answer`` (Evalchemy's aime24.json) or ``answer``."""

    name = "AIME24"
    default_repeats = 5
    hub = HubSource("zwhe99/aime24", split="test")
