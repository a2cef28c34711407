"""Each judge on real inputs: the sandbox for code, Math-Verify and the LLM judge (fake teacher) for math."""

from __future__ import annotations

import json

import pytest
from thoughtmill.curation.judges.code import CodeJudge, CodeJudgeConfig, extract_code
from thoughtmill.curation.judges.math import MathJudge, MathJudgeConfig, math_verify_one
from thoughtmill.curation.judges.puzzle import PuzzleJudge, PuzzleJudgeConfig, extract_choice
from thoughtmill.curation.judges.science import ScienceJudge, ScienceJudgeConfig

from tests.support.fake_teacher import FakeTeacher

TESTS = json.dumps({"inputs": ["2 3\n", "10 -4\n"], "outputs": ["5\n", "6\n"]})


def row(key, solution, **extra):
    return {"_key": key, "id": f"id-{key}", "deepseek_solution": solution, **extra}


def test_extract_code_takes_the_last_python_block():
    text = "first\n```python\nprint(1)\n```\nthen\n```py\nprint(2)\n```\n```text\nnot code\n```"
    assert extract_code(text) == "print(2)\n"
    assert extract_code("no block, just prose") is None
    assert extract_code("```\nprint(3)\n```") == "print(3)\n"


@pytest.mark.slow
def test_code_judge_runs_the_sandbox_and_records_bad_rows():
    good = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    wrong = "```python\nprint(5)\n```"
    rows = [
        row("good", good, test_cases=TESTS),
        row("wrong", wrong, test_cases=TESTS),
        row("prose", "Add the two numbers and print them.", test_cases=TESTS),
        row("badtests", good, test_cases='{"inputs": ["1 2\\n"], "outputs": '),
    ]
    out = dict(CodeJudge(CodeJudgeConfig(time_s=5, total_time_s=20, memory_mb=256)).judge(rows))
    assert (out["good"].verified, out["good"].verdict) == (True, "accepted")
    assert (out["wrong"].verified, out["wrong"].verdict) == (False, "wrong_answer")
    assert out["wrong"].detail["first_failure"] == 1
    assert out["prose"].verdict == "no_code_block" and "id-prose" in out["prose"].detail["error"]
    assert (
        out["badtests"].verdict == "bad_test_cases"
        and "malformed test_cases" in out["badtests"].detail["error"]
    )


def test_math_verify_compares_boxed_answers():
    assert math_verify_one("so $\\boxed{\\frac{1}{2}}$", "answer $\\boxed{0.5}$").verified
    wrong = math_verify_one("so $\\boxed{3}$", "answer $\\boxed{4}$")
    assert (wrong.verified, wrong.verdict, wrong.method) == (False, "incorrect", "math_verify")
    assert math_verify_one("I am not sure.", "$\\boxed{4}$").verdict == "no_answer"
    assert math_verify_one("$\\boxed{4}$", "").verdict == "no_ground_truth"


def _judge_teacher(server):
    return {"name": "judge", "provider": "openai", "model": "fake-judge", "base_urls": [server.base_url],
            "max_concurrency": 4, "timeout_s": 10, "retry": {"max_attempts": 2, "backoff_initial_s": 0.01}}  # fmt: skip


def test_math_verify_then_judge_asks_the_judge_only_when_math_verify_rejects(tmp_path):
    script = [
        {"match": "one half", "content": json.dumps({"correct": True, "reasoning": "one half is 1/2"})},
        {"match": "seven", "content": json.dumps({"correct": False, "reasoning": "7 is not 4"})},
    ]
    with FakeTeacher(script=script) as server:
        from thoughtmill.curation.engine.config import load_teacher

        config = MathJudgeConfig(mode="math_verify_then_judge", judge_teacher=_judge_teacher(server))
        judge = MathJudge(
            config, load_teacher(config.judge_teacher), cache_root=tmp_path, work_dir=tmp_path / "v"
        )
        rows = [
            row("mv", "$\\boxed{4}$", problem="2+2?", ground_truth_solution="$\\boxed{4}$"),
            row(
                "half", "The answer is one half.", problem="1/2?", ground_truth_solution="$\\boxed{\\frac12}$"
            ),
            row("seven", "It is seven: $\\boxed{7}$", problem="2+2?", ground_truth_solution="$\\boxed{4}$"),
        ]
        out = dict(judge.judge(rows))
        assert (out["mv"].verified, out["mv"].method) == (True, "math_verify")
        assert (out["half"].verified, out["half"].method) == (True, "llm_judge")
        assert out["half"].detail["math_verify"] in ("no_answer", "incorrect")
        assert (out["seven"].verified, out["seven"].method) == (False, "llm_judge")
        assert server.stats()["requests"] == 2
        dict(judge.judge(rows))  # judged again: answered from the engine cache
        assert server.stats()["requests"] == 2


def test_llm_judge_failure_is_recorded_for_retry(tmp_path):
    with FakeTeacher(fail_all_with="500") as server:
        from thoughtmill.curation.engine.config import load_teacher

        config = MathJudgeConfig(mode="judge", judge_teacher=_judge_teacher(server))
        judge = MathJudge(
            config, load_teacher(config.judge_teacher), cache_root=tmp_path, work_dir=tmp_path / "v"
        )
        out = dict(judge.judge([row("a", "$\\boxed{1}$", problem="p", ground_truth_solution="1")]))
        assert out["a"].verdict == "judge_failed" and out["a"].retry and not out["a"].verified


def test_puzzle_judge_reads_the_committed_letter():
    assert extract_choice("Thinking... \\boxed{C}") == "C"
    assert extract_choice("**Answer: B: bottle**") == "B"
    assert extract_choice("The answer is (d).") == "D"
    assert extract_choice("could be anything") is None
    rows = [row("ok", "Answer: A", ground_truth_solution="A"), row("no", "Answer: E", ground_truth_solution="A"),
            row("none", "hmm", ground_truth_solution="A")]  # fmt: skip
    out = dict(PuzzleJudge(PuzzleJudgeConfig(), None, cache_root=None, work_dir=None).judge(rows))
    assert [out[k].verdict for k in ("ok", "no", "none")] == ["correct", "incorrect", "no_answer"]


def test_science_pass_through_keeps_answers_and_rejects_empty_ones():
    out = dict(ScienceJudge(ScienceJudgeConfig(), None, cache_root=None, work_dir=None).judge(
        [row("a", "E = mc^2"), row("b", "  ")]))  # fmt: skip
    assert (out["a"].verified, out["a"].verdict) == (True, "pass_through")
    assert (out["b"].verified, out["b"].verdict) == (False, "empty_answer")
