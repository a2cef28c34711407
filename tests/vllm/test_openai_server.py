"""The engine's OpenAI backend against a real vLLM OpenAI server on 127.0.0.1 (tiny random model).

A random model's text is noise: these tests check counts, usage, finish reasons, the cache (by the
server's own request counter) and that a run survives the server being SIGKILLed and restarted.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from thoughtmill.curation.engine import LLM, TeacherConfig
from thoughtmill.curation.engine.request import Response

from .harness import VLLMServer

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

SUCCESS = "vllm:request_success_total"


class Noise(LLM):
    def prompt(self, row: dict[str, Any]) -> str:
        return row["problem"]

    def parse(self, row: dict[str, Any], response: Response) -> dict[str, Any]:
        return {
            "id": row["id"],
            "content": response.content,
            "finish_reason": response.finish_reason,
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
        }


def teacher(server: VLLMServer, *, max_tokens: int, concurrency: int) -> TeacherConfig:
    return TeacherConfig.from_dict(
        {
            "provider": "openai",
            "model": server.served_name,
            "base_urls": [server.base_url],
            "generation": {"temperature": 0.8, "max_tokens": max_tokens, "seed": 7},
            "max_concurrency": concurrency,
            "timeout_s": 120,
            "connect_timeout_s": 2,
            # patient enough to ride out a server restart (~25-60 s on a busy 2-core machine)
            "retry": {"max_attempts": 400, "backoff_initial_s": 0.2, "backoff_max_s": 1.0},
        }
    )


def rows(n: int, tag: str) -> list[dict[str, Any]]:
    return [{"id": i, "problem": f"[{tag}] What is {i} times {i + 2}?"} for i in range(n)]


def summary(llm: LLM) -> dict[str, Any]:
    assert llm.last_run is not None
    return json.loads(llm.last_run.paths.summary.read_text())


def check_rows(out: list[dict[str, Any]], n: int, max_tokens: int) -> None:
    assert [r["id"] for r in out] == list(range(n))  # every row once, in input order
    for r in out:
        assert r["finish_reason"] in {"length", "stop"}
        assert r["prompt_tokens"] > 0
        assert 0 < r["completion_tokens"] <= max_tokens
        if r["finish_reason"] == "length":
            assert r["completion_tokens"] == max_tokens


def test_batch_usage_finish_reason_and_cache_hits(vllm_server: VLLMServer, tmp_path: Path) -> None:
    n, max_tokens = 12, 16
    config = teacher(vllm_server, max_tokens=max_tokens, concurrency=6)
    before = vllm_server.metric(SUCCESS)
    first = Noise(config, working_dir=tmp_path / "a", progress=False)
    out = first(rows(n, "batch")).to_list()
    check_rows(out, n, max_tokens)
    stats = summary(first)
    assert (stats["requests_ok"], stats["cache_hits"], stats["failures"]) == (n, 0, 0)
    assert stats["prompt_tokens"] == sum(r["prompt_tokens"] for r in out)
    assert stats["completion_tokens"] == sum(r["completion_tokens"] for r in out)
    assert stats["length_truncated"] == sum(r["finish_reason"] == "length" for r in out)
    assert vllm_server.metric(SUCCESS) - before == n  # the server really answered each row once

    # the same rows again in the same working dir: all from the cache, the server sees nothing
    again = Noise(config, working_dir=tmp_path / "a", progress=False)
    assert again(rows(n, "batch")).to_list() == out
    stats = summary(again)
    assert (stats["cache_hits"], stats["requests_sent"]) == (n, 0)
    assert vllm_server.metric(SUCCESS) - before == n

    # a fresh working dir asks the server again; the per-request seed makes the answers repeat
    fresh = Noise(config, working_dir=tmp_path / "b", progress=False)
    assert fresh(rows(n, "batch")).to_list() == out
    assert vllm_server.metric(SUCCESS) - before == 2 * n


def test_server_killed_mid_run_then_restarted_run_completes(vllm_server: VLLMServer, tmp_path: Path) -> None:
    n, max_tokens, kill_after = 32, 48, 6
    config = teacher(vllm_server, max_tokens=max_tokens, concurrency=2)
    llm = Noise(config, working_dir=tmp_path / "w", progress=False)
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["out"] = llm(rows(n, "kill")).to_list()
        except BaseException as exc:  # surfaced by the assertion below
            box["error"] = exc

    before = vllm_server.metric(SUCCESS)
    worker = threading.Thread(target=run, name="engine-run")
    worker.start()
    deadline = time.monotonic() + 120
    while (done_at_kill := vllm_server.metric(SUCCESS) - before) < kill_after:
        assert worker.is_alive(), f"run ended before the kill: {box}"
        assert time.monotonic() < deadline, "the server answered too few requests to kill it mid-run"
        time.sleep(0.05)
    vllm_server.kill()
    assert worker.is_alive(), "the run finished before the server was killed: nothing to resume"
    assert done_at_kill < n

    vllm_server.start()
    vllm_server.wait_ready()
    worker.join(timeout=300)
    assert not worker.is_alive(), "the run did not finish after the server came back"
    assert "error" not in box, box.get("error")
    check_rows(box["out"], n, max_tokens)
    stats = summary(llm)
    assert (stats["requests_ok"], stats["failures"], stats["output_rows"]) == (n, 0, n)
    assert stats["retries"] > 0  # requests did hit the dead server
    # the restarted server (fresh counters) answered only what the first one had not
    served_after = vllm_server.metric(SUCCESS)
    print(
        f"answered before the kill: >= {done_at_kill:.0f}; after the restart: {served_after:.0f}; "
        f"retries: {stats['retries']}"
    )
    assert 1 <= served_after <= n - done_at_kill

    # a re-run resumes entirely from the cache
    again = Noise(config, working_dir=tmp_path / "w", progress=False)
    assert again(rows(n, "kill")).to_list() == box["out"]
    assert summary(again)["cache_hits"] == n
    assert vllm_server.metric(SUCCESS) == served_after
