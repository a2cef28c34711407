"""The sources and benchmark registries are open: an entry defined here, in the test, is found by name
from a pipeline YAML (sources stage, decontamination) and by the evaluator, like a built-in one."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import datasets
import pytest
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.pipeline.config import load_config
from thoughtmill.curation.pipeline.rundir import RunDir
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.sources import SOURCES, Source, load_source, register_source, unregister_source
from thoughtmill.curation.sources.base import DROP
from thoughtmill.eval.benchmarks import TASKS, task_class
from thoughtmill.eval.benchmarks.math_base import MathBenchmark
from thoughtmill.eval.runner import evaluate
from thoughtmill.eval.types import Generation, GenerationRequest

from thoughtmill.benchmarks import BenchmarkInfo, benchmark_info, register_benchmark, unregister_benchmark
from thoughtmill.hub import HubLocation

BENCHMARK_PROBLEMS = [
    {"problem": "How many positive divisors does the number 360 have in total?", "answer": "24"},
    {"problem": "What is the sum of the interior angles of a regular hexagon, in degrees?", "answer": "720"},
]
SOURCE_ROWS = [
    {"q": "Compute the product of the first five primes and report it modulo 7.", "a": "2"},
    {"q": BENCHMARK_PROBLEMS[0]["problem"].upper(), "a": "24"},  # a copy of a benchmark problem
    {"q": "   ", "a": "1"},  # dropped by the adapter
    {"q": "Find the number of subsets of a 6-element set having exactly 2 elements.", "a": "15"},
]


class QuestionAnswer(Source):
    """A source written for this test: ``q``/``a`` rows of a local file, math domain."""

    name = "qa_test_source"
    domain = "math"
    required_columns: ClassVar[tuple[str, ...]] = ("q", "a")

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "problem": row["q"],
            "ground_truth_solution": row["a"],
            DROP: "" if row["q"].strip() else "empty",
        }


class ToyMath(MathBenchmark):
    """A benchmark written for this test (the boxed-answer math shape)."""

    name = "ToyMath"


class BoxedAnswers:
    """A model that answers every question of the toy benchmark right, by its problem text."""

    name = "boxed-answers"

    def generate(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[GenerationRequest, Generation]]:
        for request in requests:
            prompt = request.messages[-1]["content"]
            answer = next(p["answer"] for p in BENCHMARK_PROBLEMS if p["problem"] in prompt)
            yield (
                request,
                Generation(content=f"So the answer is $\\boxed{{{answer}}}$.", finish_reason="stop"),
            )

    def describe(self) -> dict[str, Any]:
        return {"backend": "test"}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def qa_source() -> Iterator[None]:
    register_source(QuestionAnswer)
    yield
    unregister_source("qa_test_source")


@pytest.fixture
def toy_benchmark(tmp_path: Path) -> Iterator[Path]:
    """ToyMath registered with a Hub location whose one data file is a local absolute path (read
    through the same Hub reader and builder route as a real Hub file)."""
    data = write_jsonl(tmp_path / "toy_math.jsonl", BENCHMARK_PROBLEMS)
    register_benchmark(
        BenchmarkInfo("ToyMath", HubLocation("test/toy-math", data_files=(str(data),)), ("problem",), ToyMath)
    )
    yield data
    unregister_benchmark("ToyMath")


def pipeline_yaml(tmp_path: Path, rows: Path, benchmarks: list[str]) -> Path:
    replay = write_jsonl(tmp_path / "replay.jsonl", [{"problem": "x", "deepseek_solution": "y"}])
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        f"""
name: registry-test
run_dir: {tmp_path / "run"}
stages:
  sources:
    sources:
      - {{name: qa_test_source, path: {rows.name}}}
  dedup: {{enabled: false}}
  decontaminate:
    benchmarks: {json.dumps(benchmarks)}
  generate:
    progress: false
    teacher:
      name: replayed
      provider: replay
      model: recorded
      replay: {{path: {replay.name}, key_column: problem, content_column: deepseek_solution}}
"""
    )
    return config


def test_a_source_registered_in_a_test_runs_through_the_pipeline_by_name(
    tmp_path: Path, qa_source: None
) -> None:
    rows = write_jsonl(tmp_path / "qa.jsonl", SOURCE_ROWS)
    config = load_config(pipeline_yaml(tmp_path, rows, []))
    run_pipeline(config, until="sources", echo=lambda *_: None)
    summary = RunDir(config).summaries()["sources"]
    assert summary["per_source"]["qa_test_source"] == {
        "source": "qa_test_source",
        "read": 4,
        "dropped": {"empty": 1},
        "kept": 3,
    }
    loaded, _ = load_source("qa_test_source", rows)
    assert loaded["problem"] == [SOURCE_ROWS[i]["q"] for i in (0, 1, 3)]
    assert set(loaded["source"]) == {"qa_test_source"} and set(loaded["domain"]) == {"math"}


def test_unknown_and_duplicate_sources_are_named(qa_source: None) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown source 'qa_tset_source'; expected one of \[.*'qa_test_source'"
    ):
        load_source("qa_tset_source")
    with pytest.raises(ValueError, match="already registered"):
        register_source(QuestionAnswer)
    assert "qa_test_source" in SOURCES


def test_a_benchmark_registered_in_a_test_is_used_by_decontamination_and_the_evaluator(
    tmp_path: Path, qa_source: None, toy_benchmark: Path
) -> None:
    # Decontamination, by name from the pipeline YAML (any spelling), reads it from its Hub location.
    rows = write_jsonl(tmp_path / "qa.jsonl", SOURCE_ROWS)
    config = load_config(pipeline_yaml(tmp_path, rows, ["toy_math"]))
    run_pipeline(config, until="decontaminate", echo=lambda *_: None)
    stats = RunDir(config).summaries()["decontaminate"]["stats"]
    assert stats["by_benchmark"] == {"toy_math": 1} and stats["benchmark_sizes"] == {"toy_math": 2}
    kept = datasets.load_from_disk(str(tmp_path / "run" / "decontaminate" / "dataset"))
    assert kept["problem"] == [SOURCE_ROWS[0]["q"], SOURCE_ROWS[3]["q"]]

    # The evaluator, by name, reads the same location and scores a model's answers.
    assert "ToyMath" in TASKS and task_class("toymath") is ToyMath
    results, path = evaluate(BoxedAnswers(), ["toy_math"], output=tmp_path / "eval")
    assert results is not None and path is not None and path.is_file()
    task = results["results"]["ToyMath"]
    assert task["accuracy_avg"] == 1.0 and len(task["examples"]) == 2
    assert benchmark_info("TOY-MATH").hub.short() == str(toy_benchmark)


def test_benchmark_names_are_one_name_in_any_spelling() -> None:
    assert benchmark_info("gpqa_diamond").name == "GPQADiamond"
    assert benchmark_info("livecodebench") is benchmark_info("LiveCodeBench")
    with pytest.raises(KeyError, match="known benchmarks: AIME24"):
        benchmark_info("aime23")
    with pytest.raises(ValueError, match="already registered"):
        register_benchmark(BenchmarkInfo("aime_24", HubLocation("x/y"), ("problem",), ToyMath))
