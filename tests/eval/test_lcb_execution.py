"""LiveCodeBench scoring through the sandbox: known-good solutions pass, known-bad ones fail, and a
sample passes only when every hidden test passes."""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    from thoughtmill.execution import run_batch  # noqa: F401
except ImportError:  # the execution package is being built in parallel
    pytest.skip("execution.run_batch is not available yet", allow_module_level=True)

from thoughtmill.eval.benchmarks import make_benchmark
from thoughtmill.eval.types import Generation

GOOD_STDIN = "Sure:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```\n"
BAD_STDIN = "```python\na, b = map(int, input().split())\nprint(a - b)\n```"  # prints a - b: wrong on every hidden test
GOOD_CALL = (
    "```python\nfrom typing import List\n\nclass Solution:\n    def largest(self, nums: List[int]) -> int:\n"
    "        return max(nums)\n```"
)
BAD_CALL = (
    "```python\nfrom typing import List\n\nclass Solution:\n    def largest(self, nums: List[int]) -> int:\n"
    "        return nums[0]\n```"
)  # right on [-3, -7], wrong on [4, 2, 9, 1]


@pytest.mark.slow
def test_known_good_and_known_bad_solutions(data_dir: Path) -> None:
    bench = make_benchmark("LiveCodeBench", data_path=str(data_dir / "lcb_release_v2.jsonl"), repeats=3)
    examples = bench.load_examples()
    outputs = {  # repeat 0: both good; repeat 1: both bad; repeat 2: no code at all
        (0, 0): GOOD_STDIN,
        (1, 0): GOOD_CALL,
        (0, 1): BAD_STDIN,
        (1, 1): BAD_CALL,
        (0, 2): "I cannot solve this.",
        (1, 2): "print('no fence')",
    }
    gens = {f"LiveCodeBench/{q}/{r}": Generation(content=text) for (q, r), text in outputs.items()}
    results = bench.evaluate_responses(bench.attach(examples, gens))
    assert [r["num_solved"] for r in results["run_stats"]] == [2, 0, 0]
    assert results["accuracy_avg"] == pytest.approx(1 / 3)
    assert results["accuracy_easy_avg"] == pytest.approx(1 / 3)
    assert results["accuracy_medium_avg"] == pytest.approx(1 / 3)
    easy = results["examples"][0]
    assert easy["correct"] == [True, False, False]
    assert easy["verdicts"][1]["status"] == "wrong_answer"
    assert easy["verdicts"][2] == {"status": "not_run", "reason": "no code block"}
    assert "tests" not in easy and easy["num_tests"] == 2
