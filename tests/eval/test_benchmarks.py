"""Prompts, sampling, repeats and scoring of each benchmark on hand-built responses."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from thoughtmill.eval.benchmarks import TASKS, make_benchmark
from thoughtmill.eval.benchmarks.gpqa_diamond import LETTERS, shuffled_options
from thoughtmill.eval.errors import OutputsError
from thoughtmill.eval.types import Generation


def test_registry_and_defaults() -> None:
    assert list(TASKS) == ["AIME24", "AIME25", "AMC23", "MATH500", "GPQADiamond", "LiveCodeBench"]
    repeats = {name: cls.default_repeats for name, cls in TASKS.items()}
    assert repeats == {
        "AIME24": 5,
        "AIME25": 5,
        "AMC23": 5,
        "MATH500": 1,
        "GPQADiamond": 3,
        "LiveCodeBench": 3,
    }
    with pytest.raises(ValueError, match="known tasks: AIME24"):
        make_benchmark("AIME23")


def test_math_prompt_and_seed_per_repeat(data_dir: Path) -> None:
    bench = make_benchmark("AIME24", data_path=str(data_dir / "aime24.jsonl"))
    examples = bench.load_examples()
    requests = bench.requests(examples)
    assert len(requests) == 3 * 5
    first = requests[0]
    assert first.messages == (
        {
            "role": "user",
            "content": "Problem: Find the number of positive divisors of $720$.\n"
            "Mark your solution with \\boxed\nAnswer:",
        },
    )
    assert [r.sampling.seed for r in requests[::3]] == [0, 1, 2, 3, 4]
    assert {(r.sampling.temperature, r.sampling.max_new_tokens) for r in requests} == {(0.7, 32768)}
    assert [r.key for r in requests[:4]] == ["AIME24/0/0", "AIME24/1/0", "AIME24/2/0", "AIME24/0/1"]


def test_system_instruction_and_options(data_dir: Path) -> None:
    bench = make_benchmark(
        "AMC23",
        data_path=str(data_dir / "amc23.json"),
        repeats=2,
        seed=10,
        system_instruction="Think.",
        max_new_tokens=1024,
    )
    request = bench.requests(bench.load_examples())[-1]
    assert request.messages[0] == {"role": "system", "content": "Think."}
    assert request.sampling.seed == 11 and request.sampling.max_new_tokens == 1024


def _responses(bench, examples, outputs_by_repeat):
    gens = {
        f"{bench.name}/{q}/{r}": Generation(content=out)
        for r, outputs in enumerate(outputs_by_repeat)
        for q, out in enumerate(outputs)
    }
    return bench.attach(examples, gens)


def test_math_scoring_exact(data_dir: Path) -> None:
    bench = make_benchmark("AMC23", data_path=str(data_dir / "amc23.json"), repeats=2)
    examples = bench.load_examples()  # answers 12, \frac{3}{8}, 2\sqrt3, 7
    responses = _responses(
        bench,
        examples,
        [
            ["\\boxed{12}", "\\boxed{\\dfrac38}", "\\boxed{2\\sqrt{3}}", "\\boxed{7}"],
            ["\\boxed{12.0}", "\\boxed{0.375}", "no box", "\\boxed{11}"],
        ],
    )
    res = bench.evaluate_responses(responses)
    assert [r["num_solved"] for r in res["run_stats"]] == [4, 0]
    assert res["accuracy_avg"] == 0.5 and res["solved_avg"] == 2.0 and res["num_repeat"] == 2
    assert math.isclose(res["accuracy_std_err"], 0.5 / math.sqrt(2))  # population std / sqrt(n)
    assert res["examples"][1]["model_answers"] == ["\\dfrac38", "0.375"]
    assert res["examples"][1]["correct"] == [True, False]
    # Math-Verify accepts 12.0 and 0.375 too
    assert [r["num_solved"] for r in res["math_verify"]["run_stats"]] == [4, 2]


def test_math500_single_run_layout(data_dir: Path) -> None:
    bench = make_benchmark("MATH500", data_path=str(data_dir / "math500.jsonl"))
    examples = bench.load_examples()
    res = bench.evaluate_responses(
        _responses(
            bench,
            examples,
            [
                ["\\boxed{\\frac13}", "\\boxed{[-1, 3]}", "\\boxed{(2,\\frac{\\pi}{2})}", "\\boxed{50}"],
            ],
        )
    )
    assert set(res) == {"examples", "num_total", "num_solved", "accuracy", "math_verify"}
    assert (res["num_total"], res["num_solved"], res["accuracy"]) == (4, 3, 0.75)
    assert res["examples"][0]["model_answer"] == "\\frac13"


def test_missing_generations_are_named(data_dir: Path) -> None:
    bench = make_benchmark("MATH500", data_path=str(data_dir / "math500.jsonl"))
    examples = bench.load_examples()
    with pytest.raises(OutputsError, match=r"3 of 4 generations are missing \(first: MATH500/1/0"):
        bench.attach(examples, {"MATH500/0/0": Generation("x")})


def test_gpqa_shuffle_is_per_question_and_reproducible(data_dir: Path) -> None:
    bench = make_benchmark("GPQADiamond", data_path=str(data_dir / "gpqa_diamond.jsonl"))
    examples = bench.load_examples()
    again = make_benchmark("GPQADiamond", data_path=str(data_dir / "gpqa_diamond.jsonl")).load_examples()
    assert [e["options"] for e in examples] == [e["options"] for e in again]
    for example in examples:
        assert (
            example["options"][LETTERS.index(example["answer"])]
            == {"fx-1": "The photon", "fx-2": "sp3", "fx-3": "The mitochondrion", "fx-4": "2S1/2"}[
                example["id"]
            ]
        )
    # Evalchemy's fresh Random(42) gives every question the same permutation; ours does not
    letters = {shuffled_options(f"question {i}", "right", ["w1", "w2", "w3"], 0)[1] for i in range(40)}
    assert letters == set(LETTERS)
    prompt = bench.user_prompt(examples[0])
    assert prompt.startswith("Return your final response within \\boxed{} and only include the letter choice")
    assert "\nOptions: A) " in prompt and prompt.endswith("\nAnswer:")


def test_gpqa_scoring_exact(data_dir: Path) -> None:
    bench = make_benchmark("GPQADiamond", data_path=str(data_dir / "gpqa_diamond.jsonl"), repeats=2)
    examples = bench.load_examples()
    right = [f"\\boxed{{{e['answer']}}}" for e in examples]
    wrong = [f"\\boxed{{{LETTERS[(LETTERS.index(e['answer']) + 1) % 4]}}}" for e in examples]
    res = bench.evaluate_responses(_responses(bench, examples, [right, wrong[:2] + right[2:]]))
    assert [r["num_solved"] for r in res["run_stats"]] == [4, 2]
    assert res["accuracy_avg"] == 0.75


def test_lcb_prompt_and_summary(data_dir: Path) -> None:
    bench = make_benchmark("LiveCodeBench", data_path=str(data_dir / "lcb_release_v2.jsonl"), repeats=2)
    stdin, call = bench.load_examples()
    assert bench.user_prompt(stdin).startswith(
        "Generate an executable Python function generated from the given "
        "prompt. The function should take stdin as input"
    )
    assert bench.user_prompt(stdin).endswith(
        "print the output. Simply call the function after the definition."
        "Read two integers a and b on one line and print a + b."
    )
    assert (
        "Return the function body without invoking it at the final solution.You are given"
        in bench.user_prompt(call)
    )
    summary = bench.summarise(
        [{"difficulty": "easy"}, {"difficulty": "medium"}], [[True, False], [True, True]]
    )
    assert summary["accuracy_avg"] == 0.75
    assert math.isclose(summary["accuracy_std_err"], 0.25 * math.sqrt(2) / math.sqrt(2))  # ddof=1
    assert (summary["accuracy_easy_avg"], summary["accuracy_medium_avg"]) == (1.0, 0.5)
    assert summary["raw_metrics"][0]["per_difficulty_correct"] == {"easy": 1, "medium": 0}
