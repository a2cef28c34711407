"""mode: batch through LLM: the batch fills the cache, the engine writes every row from it, and what
the batch left unanswered is sent live, or recorded as failed, as ``batch.retry_failed`` says."""

from __future__ import annotations

import json

import pytest
from thoughtmill.curation.engine import LLM
from thoughtmill.curation.errors import ConfigError

from .conftest import Solve, anthropic_teacher, assert_key_nowhere, openai_teacher, problems


def test_errored_items_are_answered_live_at_the_live_price(openai_server, key, tmp_path):
    rows = problems(6, {4: "[[batch:errored]]"})
    llm = Solve(openai_teacher(openai_server, retry_failed="live"), working_dir=tmp_path, progress=False)
    out = llm(rows)
    assert out["id"] == list(range(6)) and all(a.startswith("answer ") for a in out["answer"])
    assert openai_server.stats["batch_requests"] == 6 and openai_server.stats["live_requests"] == 1
    stats = llm.stats
    assert stats["failures"] == 0 and stats["cache_hits"] == 5 and stats["requests_ok"] == 6
    live_prompt = len("problem 4 [[batch:errored]]") // 4
    batch_prompt = stats["prompt_tokens"] - live_prompt
    expected = 0.5 * (batch_prompt * 2.0 + 5 * 10 * 8.0) / 1e6 + (live_prompt * 2.0 + 10 * 8.0) / 1e6
    assert stats["cost_usd"] == pytest.approx(expected)
    assert_key_nowhere(tmp_path)


def test_retry_failed_none_records_the_row_and_sends_nothing_live(openai_server, key, tmp_path):
    rows = problems(4, {1: "[[batch:expired]]"})
    llm = Solve(openai_teacher(openai_server, retry_failed="none"), working_dir=tmp_path, progress=False)
    out = llm(rows)
    assert out["id"] == [0, 2, 3]
    assert openai_server.stats["live_requests"] == 0
    failures = [json.loads(line) for line in llm.last_run.paths.failures.read_text().splitlines()]
    assert [f["row"] for f in failures] == [1] and "batch_expired" in failures[0]["error"]


def test_anthropic_batch_mode_end_to_end_and_a_rerun_costs_nothing(anthropic_server, key, tmp_path):
    teacher = anthropic_teacher(anthropic_server)
    bought = Solve(teacher, working_dir=tmp_path, progress=False)
    first = bought(problems(5))
    again = Solve(teacher, working_dir=tmp_path, progress=False)
    second = again(problems(5))
    assert first.to_list() == second.to_list()
    assert anthropic_server.stats["batches_created"] == 1 and anthropic_server.stats["messages"] == 0
    # paid once, at the batch price: not counted again when the engine serves the rows from the cache
    assert bought.stats["cost_usd"] > 0 and bought.stats["cached_cost_usd"] == 0
    assert again.stats["cost_usd"] == 0 and again.stats["cache_hits"] == 5
    assert again.stats["cached_cost_usd"] == pytest.approx(bought.stats["cost_usd"])  # at the batch price


def test_a_provider_without_a_batch_api_is_refused_by_name(tmp_path, key):
    class Echo(LLM):
        def prompt(self, row):
            return row["q"]

    teacher = {
        "provider": "replay",
        "model": "m",
        "mode": "batch",
        "replay": {"path": str(tmp_path / "r.jsonl")},
    }
    (tmp_path / "r.jsonl").write_text(json.dumps({"prompt": "x", "content": "y"}) + "\n")
    with pytest.raises(
        ConfigError, match=r"mode: batch is not available for provider 'replay'.*anthropic, openai"
    ):
        Echo(teacher, working_dir=tmp_path, progress=False)([{"q": "x"}])


def test_budget_usd_caps_what_is_submitted_in_batches(openai_server, key, tmp_path):
    # first guess per request at the batch price: (prompt ~8 tokens * $2 + 256 max_tokens * $8) / 1e6 / 2
    llm = Solve(
        openai_teacher(openai_server, retry_failed="none"),
        working_dir=tmp_path,
        progress=False,
        budget_usd=0.005,
    )
    out = llm(problems(20))
    submitted = openai_server.stats["batch_requests"]
    assert 0 < submitted < 20 and len(out) == submitted
    assert llm.stats["cost_usd"] <= 0.005
    failures = [json.loads(line) for line in llm.last_run.paths.failures.read_text().splitlines()]
    assert len(failures) == 20 - submitted and all("budget_usd" in f["error"] for f in failures)
