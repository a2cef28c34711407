"""The engine's offline vLLM backend (provider: vllm -> vllm.LLM.chat) on a small dataset.

Each run is its own process of the vLLM interpreter (tests/vllm/offline_job.py) in a fresh working
dir, so two runs share no cache and no engine: equal outputs mean the seeding really repeats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .harness import run_in_vllm_env

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

JOB = Path(__file__).with_name("offline_job.py")
N, MAX_TOKENS = 16, 24


def run_job(python: Path, model: Path, working_dir: Path, data_parallel: int = 1) -> dict[str, Any]:
    proc = run_in_vllm_env(
        [str(python), str(JOB), str(model), str(working_dir), str(N), str(MAX_TOKENS), str(data_parallel)],
        "offline job",
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_offline_vllm_backend_is_seeded_and_repeatable(
    vllm_python: Path, tiny_model: Path, tmp_path: Path
) -> None:
    first = run_job(vllm_python, tiny_model, tmp_path / "one")
    rows, stats = first["rows"], first["summary"]
    assert [r["id"] for r in rows] == list(range(N))
    assert (stats["requests_ok"], stats["failures"], stats["cache_hits"], stats["output_rows"]) == (
        N,
        0,
        0,
        N,
    )
    for r in rows:
        assert r["finish_reason"] in {"length", "stop"}
        assert r["prompt_tokens"] > 0 and 0 < r["completion_tokens"] <= MAX_TOKENS
    assert stats["completion_tokens"] == sum(r["completion_tokens"] for r in rows)
    assert stats["prompt_tokens"] == sum(r["prompt_tokens"] for r in rows)
    # a seed per row: the rows are not all one sample (noise, but distinct noise)
    assert len({r["content"] for r in rows}) > N // 2

    second = run_job(vllm_python, tiny_model, tmp_path / "two")
    assert second["rows"] == rows
    assert (tmp_path / "two" / "cache").is_dir() and not second["summary"]["cache_hits"]

    # two engines in child processes, batches dealt to whichever is idle: the same seeded samples
    parallel = run_job(vllm_python, tiny_model, tmp_path / "dp", data_parallel=2)
    assert parallel["rows"] == rows and not parallel["summary"]["cache_hits"]
