"""Anthropic's Message Batches (POST /v1/messages/batches -> poll -> results_url JSONL) against a local
server speaking its wire protocol: succeeded / errored / canceled / expired results, thinking kept."""

from __future__ import annotations

import pytest
from thoughtmill.curation.engine.cache import ResponseCache

from .conftest import KEY, Solve, anthropic_teacher, assert_key_nowhere, problems, run_flow


def test_a_message_batch_fills_the_cache_with_thinking_and_answers(anthropic_server, key, tmp_path):
    teacher = anthropic_teacher(anthropic_server)
    outcome, stats = run_flow(teacher, problems(9), tmp_path)
    assert outcome.answered == 9 and not outcome.unanswered
    assert anthropic_server.stats["batches_created"] == 1 and anthropic_server.stats["batch_requests"] == 9
    assert anthropic_server.stats["polls"] >= 2  # in_progress, then ended
    live = Solve(teacher.model_copy(update={"mode": "live"}), working_dir=tmp_path, progress=False)
    out = live(problems(9))
    assert anthropic_server.stats["messages"] == 0  # the live run found every answer cached
    assert out["thinking"][4] == "Let me think about 'problem 4'."
    assert stats.cost_usd == pytest.approx(
        0.5 * (stats.prompt_tokens * 3.0 + stats.completion_tokens * 15.0) / 1e6
    )
    assert anthropic_server.stats["api_keys"].keys() == {KEY}
    assert_key_nowhere(tmp_path)


def test_errored_canceled_and_expired_results_are_retried_in_a_new_batch(anthropic_server, key, tmp_path):
    rows = problems(7, {0: "[[batch:errored]]", 3: "[[batch:canceled]]", 6: "[[batch:expired]]"})
    outcome, _ = run_flow(anthropic_teacher(anthropic_server, retry_failed="batch"), rows, tmp_path)
    assert outcome.answered == 7 and not outcome.unanswered
    assert (
        anthropic_server.stats["batches_created"] == 2 and anthropic_server.stats["batch_requests"] == 7 + 3
    )


def test_rounds_are_bounded(anthropic_server, key, tmp_path):
    rows = problems(3, {1: "[[batch:expired]]"})
    outcome, _ = run_flow(
        anthropic_teacher(anthropic_server, retry_failed="batch", max_rounds=1), rows, tmp_path
    )
    assert list(outcome.unanswered.values()) == ["expired"]
    assert anthropic_server.stats["batches_created"] == 1
    with ResponseCache(tmp_path / "cache") as cache:
        assert len(cache) == 2  # nothing was cached for the expired request
