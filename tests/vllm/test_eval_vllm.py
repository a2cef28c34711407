"""The evaluator's vLLM backend end to end: `python -m eval.cli --backend vllm` in the vLLM env on a
small AIME-style fixture, the Evalchemy results layout, seeded repeats, re-scoring in the main env.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .harness import assert_aime_layout, read_generations, read_results, run_in_vllm_env

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

REPEATS, MAX_NEW = 2, 32


def run_eval(python: Path, model: Path, fixture: Path, output: Path) -> dict[str, Any]:
    cmd = [
        str(python),
        "-m",
        "thoughtmill.eval.cli",
        "--model",
        str(model),
        "--model-name",
        "tiny",
        "--backend",
        "vllm",
        "--tasks",
        "AIME24",
        "--data",
        f"AIME24={fixture}",
        "--repeats",
        str(REPEATS),
        "--seed",
        "0",
        "--max-new-tokens",
        str(MAX_NEW),
        "--dtype",
        "float32",
        "--max-model-len",
        "512",
        "--output",
        str(output),
    ]
    run_in_vllm_env(cmd, "eval")
    return read_results(output)


def test_eval_vllm_backend_results_repeats_and_rescore(
    vllm_python: Path, tiny_model: Path, data_dir: Path, tmp_path: Path
) -> None:
    fixture = data_dir / "aime_tiny.jsonl"
    n = sum(1 for line in fixture.read_text().splitlines() if line.strip())
    saved = run_eval(vllm_python, tiny_model, fixture, tmp_path / "a")

    aime = assert_aime_layout(saved, n, REPEATS, "vllm")

    lines = read_generations(tmp_path / "a")
    assert len(lines) == n * REPEATS
    assert {(r["repeat"], r["sampling"]["seed"]) for r in lines} == {(i, i) for i in range(REPEATS)}
    for r in lines:
        assert r["finish_reason"] in {"length", "stop"}
        assert 0 < r["completion_tokens"] <= MAX_NEW and r["prompt_tokens"] > 0
    # repeat i samples with seed i: the repeats of a question are different samples
    assert any(len(set(e["model_outputs"])) == REPEATS for e in aime["examples"])

    # the whole run again in a fresh folder: the same samples, the same scores
    again = run_eval(vllm_python, tiny_model, fixture, tmp_path / "b")
    assert [r["content"] for r in read_generations(tmp_path / "b")] == [r["content"] for r in lines]
    assert again["results"] == saved["results"]

    # re-scoring the saved outputs here, in the main env, with no vllm and no model
    from thoughtmill.eval.runner import rescore

    rescored, path = rescore(tmp_path / "a" / "tiny")
    assert path.parent == tmp_path / "a" / "tiny"
    assert json.loads(json.dumps(rescored["results"])) == saved["results"]
