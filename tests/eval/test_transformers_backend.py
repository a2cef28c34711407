"""The evaluator's transformers backend for real: `python -m eval.cli --backend transformers` on the
shared tiny Qwen2 model (training.tiny_model) in an environment that has torch + transformers.

The main `.venv` has neither, so the model side runs as a subprocess of `.venv-vllm` (preferred: the
project is installed there) or, failing that, `.venv-train` when it can import the eval CLI. A random
model writes noise: the tests check structure, counts, token accounting, seeded repeatability, the stop
path and that re-scoring in the main env gives identical numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from thoughtmill.training.environment import find_train_python

from tests.vllm.harness import (
    REPO_ROOT,
    assert_aime_layout,
    build_tiny_model,
    find_vllm_python,
    read_generations,
    read_results,
    vllm_env,
)

pytestmark = pytest.mark.slow

FIXTURE = REPO_ROOT / "tests" / "data" / "vllm" / "aime_tiny.jsonl"
REPEATS, MAX_NEW, BATCH = 2, 16, 3  # batch 3 over 4 questions: two batches per seed, left padding
PROBE = "import torch, transformers, thoughtmill.eval.cli, thoughtmill.eval.backends.hf_transformers"


def _env() -> dict[str, str]:
    """Offline hub, repo on PYTHONPATH, one torch thread per shared core at most."""
    return vllm_env(extra={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})


def _run(python: Path, args: list[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(python), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=_env(),
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{args[:2]} failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


def _usable(python: Path | None) -> bool:
    if python is None:
        return False
    probe = subprocess.run(
        [str(python), "-c", PROBE], capture_output=True, env=_env(), cwd=REPO_ROOT, timeout=120, check=False
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def hf_python() -> Path:
    """.venv-vllm, else .venv-train if it can run the eval CLI; skipped locally, a failure in CI."""
    candidates: list[Path] = []
    try:
        candidates.append(find_vllm_python())  # type: ignore[arg-type]
    except FileNotFoundError as exc:  # a wrong $THOUGHTMILL_VLLM_PYTHON is a mistake, not a skip
        pytest.fail(str(exc))
    try:
        candidates.append(find_train_python(required=False))  # type: ignore[arg-type]
    except Exception as exc:  # TrainEnvironmentMissing for a wrong $THOUGHTMILL_TRAIN_PYTHON
        pytest.fail(str(exc))
    for python in candidates:
        if _usable(python):
            return python
    reason = (
        "no environment with torch + transformers that can import the eval CLI: build .venv-vllm "
        "(`make vllm-env`), or .venv-train (`make train-env`) with the eval dependencies (math_verify, typer)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must build it before the tests)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def tiny_model(hf_python: Path) -> Path:
    """The shared tiny model of the vLLM tests (.cache/tiny-model/vllm), hash-cached."""
    return build_tiny_model(hf_python)


def run_eval(python: Path, model: Path, output: Path, *extra: str) -> dict[str, Any]:
    _run(
        python,
        [
            "-m",
            "thoughtmill.eval.cli",
            "--backend",
            "transformers",
            "--model",
            str(model),
            "--model-name",
            "tiny",
            "--tasks",
            "AIME24",
            "--data",
            f"AIME24={FIXTURE}",
            "--seed",
            "0",
            "--dtype",
            "float32",
            "--batch-size",
            str(BATCH),
            "--output",
            str(output),
            *extra,
        ],
    )
    return read_results(output)


# the prompt length of each saved request, counted by the model's tokenizer with its chat template
COUNT_PROMPTS = """
import json, sys
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
rows = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
texts = [tok.apply_chat_template(r["messages"], tokenize=False, add_generation_prompt=True) for r in rows]
print(json.dumps([len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]))
"""


def test_transformers_backend_results_repeats_and_rescore(
    hf_python: Path, tiny_model: Path, tmp_path: Path
) -> None:
    n = sum(1 for line in FIXTURE.read_text().splitlines() if line.strip())
    args = ("--repeats", str(REPEATS), "--max-new-tokens", str(MAX_NEW))
    saved = run_eval(hf_python, tiny_model, tmp_path / "a", *args)

    aime = assert_aime_layout(saved, n, REPEATS, "transformers")
    assert saved["config"]["model_args"]["batch_size"] == BATCH
    assert saved["config"]["task_settings"]["AIME24"]["seeds"] == list(range(REPEATS))

    lines = read_generations(tmp_path / "a")
    assert len(lines) == n * REPEATS
    assert {(r["repeat"], r["sampling"]["seed"]) for r in lines} == {(i, i) for i in range(REPEATS)}
    for r in lines:
        assert r["content"], r
        # a random model almost never samples its stop token; if it does, fewer tokens and "stop"
        assert (r["finish_reason"], r["completion_tokens"]) == ("length", MAX_NEW) or (
            r["finish_reason"] == "stop" and 0 < r["completion_tokens"] <= MAX_NEW
        ), r
    # every row's own prompt length, not its batch neighbour's (the prompts differ in length)
    gen_file = tmp_path / "a" / "tiny" / "generations" / "AIME24" / "saved.jsonl"
    gen_file.write_text("".join(json.dumps(r) + "\n" for r in lines))
    counts = json.loads(_run(hf_python, ["-c", COUNT_PROMPTS, str(tiny_model), str(gen_file)]).stdout)
    gen_file.unlink()
    assert [r["prompt_tokens"] for r in lines] == counts
    assert len(set(counts)) > 1
    # repeat i samples with seed i: the repeats of a question are different samples
    assert any(len(set(e["model_outputs"])) == REPEATS for e in aime["examples"])

    # the whole run again in a fresh folder: the same samples, the same scores
    again = run_eval(hf_python, tiny_model, tmp_path / "b", *args)
    assert [(r["content"], r["completion_tokens"]) for r in read_generations(tmp_path / "b")] == [
        (r["content"], r["completion_tokens"]) for r in lines
    ]
    assert again["results"] == saved["results"]

    # re-scoring the saved outputs here, in the main env, with no torch and no model
    from thoughtmill.eval.runner import rescore

    rescored, path = rescore(tmp_path / "a" / "tiny")
    assert path.parent == tmp_path / "a" / "tiny"
    assert json.loads(json.dumps(rescored["results"])) == saved["results"]


# greedy ids of every question, as one left-padded batch; then a stop token that appears in them
GREEDY_IDS = """
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1]); tok.padding_side = "left"
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
rows = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
texts = [tok.apply_chat_template(r["messages"], tokenize=False, add_generation_prompt=True) for r in rows]
enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
with torch.no_grad():
    out = model.generate(**enc, do_sample=False, max_new_tokens=int(sys.argv[3]), pad_token_id=tok.pad_token_id)
ids = out[:, enc["input_ids"].shape[1]:].tolist()
prefixes = [[tok.decode(i[:k], skip_special_tokens=True) for k in range(len(i) + 1)] for i in ids]
print(json.dumps({"ids": ids, "text": [p[-1] for p in prefixes], "prefixes": prefixes}))
"""


def test_transformers_backend_stops_at_eos(hf_python: Path, tiny_model: Path, tmp_path: Path) -> None:
    """Greedy, one batch: a token the model emits is made an end-of-sequence token of a copy of the
    model; rows that reach it end there ("stop", the stop token counted), the others run to the limit."""
    base = run_eval(
        hf_python,
        tiny_model,
        tmp_path / "greedy",
        "--repeats",
        "1",
        "--temperature",
        "0",
        "--max-new-tokens",
        str(MAX_NEW),
        "--batch-size",
        "8",
    )
    lines = read_generations(tmp_path / "greedy")
    assert base["results"]["AIME24"]["num_repeat"] == 1
    gen_file = tmp_path / "requests.jsonl"
    gen_file.write_text("".join(json.dumps(r) + "\n" for r in lines))
    ref = json.loads(_run(hf_python, ["-c", GREEDY_IDS, str(tiny_model), str(gen_file), str(MAX_NEW)]).stdout)
    assert [r["content"] for r in lines] == ref["text"]  # the backend's greedy output is plain generate's
    assert all(r["finish_reason"] == "length" and r["completion_tokens"] == MAX_NEW for r in lines)

    stop = ref["ids"][0][3]  # the 4th token of question 0: the model stops there (or earlier)
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    gen_config = json.loads((model / "generation_config.json").read_text())
    old = gen_config["eos_token_id"]
    gen_config["eos_token_id"] = [*(old if isinstance(old, list) else [old]), stop]
    (model / "generation_config.json").write_text(json.dumps(gen_config))

    run_eval(
        hf_python,
        model,
        tmp_path / "stop",
        "--repeats",
        "1",
        "--temperature",
        "0",
        "--max-new-tokens",
        str(MAX_NEW),
        "--batch-size",
        "8",
    )
    stopped = read_generations(tmp_path / "stop")
    for r, ids, prefixes, full in zip(stopped, ref["ids"], ref["prefixes"], lines, strict=True):
        if stop in ids:
            end = ids.index(stop) + 1
            assert (r["finish_reason"], r["completion_tokens"], r["content"]) == (
                "stop",
                end,
                prefixes[end],
            ), r
        else:
            assert (r["finish_reason"], r["completion_tokens"], r["content"]) == (
                "length",
                MAX_NEW,
                full["content"],
            )
        assert r["prompt_tokens"] == full["prompt_tokens"]
    assert stopped[0]["finish_reason"] == "stop" and stopped[0]["completion_tokens"] <= 4
    assert any(r["finish_reason"] == "length" for r in stopped) or all(stop in ids for ids in ref["ids"])
