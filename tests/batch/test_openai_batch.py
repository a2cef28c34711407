"""OpenAI's Batch API (files upload -> /v1/batches -> poll -> output and error files) against a local
server speaking its wire protocol: answers land in the cache under the live path's keys, limits
split batches, errored and expired items are retried by option, batch prices are charged."""

from __future__ import annotations

import json

import pytest
from thoughtmill.curation.engine.cache import ResponseCache

from .conftest import KEY, Solve, assert_key_nowhere, openai_teacher, problems, run_flow


def test_uncached_requests_go_through_one_batch_and_a_live_run_reuses_them(openai_server, key, tmp_path):
    teacher = openai_teacher(openai_server)
    outcome, stats = run_flow(teacher, problems(12), tmp_path)
    assert outcome.spooled == 12 and outcome.answered == 12 and not outcome.unanswered
    assert openai_server.stats["uploads"] == 1 and openai_server.stats["batches_created"] == 1
    assert openai_server.stats["batch_requests"] == 12
    # polled through every status to the end, and not once after
    assert openai_server.history("batch_0001") == ["validating", "in_progress", "finalizing", "completed"]
    live = Solve(teacher.model_copy(update={"mode": "live"}), working_dir=tmp_path, progress=False)
    out = live(problems(12))
    assert openai_server.stats["live_requests"] == 0  # every answer came from the cache, same keys
    assert all(a.startswith("answer ") for a in out["answer"]) and out["thinking"][3] == "think problem 3"
    assert stats.cost_usd == pytest.approx(
        0.5 * (stats.prompt_tokens * 2.0 + stats.completion_tokens * 8.0) / 1e6
    )
    assert set(openai_server.stats["authorization"]) == {f"Bearer {KEY}"}
    assert_key_nowhere(tmp_path)


def test_identical_requests_are_batched_once_and_limits_split_batches(openai_server, key, tmp_path):
    rows = [*problems(10), {"id": 99, "problem": "problem 3"}]
    outcome, _ = run_flow(openai_teacher(openai_server, max_requests=4), rows, tmp_path)
    assert outcome.spooled == 10
    assert openai_server.stats["batches_created"] == 3 and openai_server.stats["batch_requests"] == 10
    ledger = [
        json.loads(line) for line in (tmp_path / "runs/Solve/batches/ledger.jsonl").read_text().splitlines()
    ]
    assert [e["event"] for e in ledger].count("created") == 3
    assert all(
        set(e)
        <= {"event", "spool", "file", "count", "bytes", "round", "file_id", "at", "batch_id", "outcome"}
        for e in ledger
    )


def test_errored_and_expired_items_go_into_a_new_batch(openai_server, key, tmp_path):
    rows = problems(8, {2: "[[batch:errored]]", 5: "[[batch:expired]]"})
    outcome, _ = run_flow(openai_teacher(openai_server, retry_failed="batch"), rows, tmp_path)
    assert outcome.answered == 8 and not outcome.unanswered
    assert openai_server.stats["batches_created"] == 2
    assert openai_server.stats["batch_requests"] == 8 + 2  # only the two failed ones again
    statuses = [b["status"] for b in openai_server.batches.values()]
    assert statuses == ["expired", "completed"]


def test_unanswered_items_are_left_with_their_reason(openai_server, key, tmp_path):
    rows = problems(5, {1: "[[batch:errored]]", 4: "[[batch:expired]]"})
    outcome, _ = run_flow(openai_teacher(openai_server, retry_failed="none"), rows, tmp_path)
    assert outcome.answered == 3
    assert sorted(outcome.unanswered.values()) == [
        "batch_expired: This request could not be executed before the completion window expired.",
        "http_500: injected server error",
    ]
    assert openai_server.stats["batches_created"] == 1


def test_a_second_run_submits_nothing_when_everything_is_cached(openai_server, key, tmp_path):
    run_flow(openai_teacher(openai_server), problems(6), tmp_path)
    outcome, _ = run_flow(openai_teacher(openai_server), problems(6), tmp_path)
    assert outcome.spooled == 0 and openai_server.stats["batches_created"] == 1


def test_the_byte_limit_splits_batches_too(openai_server, key, tmp_path):
    rows = [{"id": i, "problem": f"problem {i} " + "x" * 3000} for i in range(6)]
    outcome, _ = run_flow(openai_teacher(openai_server, max_bytes=7000), rows, tmp_path)
    assert outcome.answered == 6
    assert openai_server.stats["batches_created"] == 3  # two ~3.2 KB lines per 7,000-byte batch
    sizes = [len(f["data"]) for f in openai_server.files.values() if f["purpose"] == "batch"]
    assert max(sizes) <= 7000


def test_a_result_line_longer_than_the_stream_buffer_is_read_whole(openai_server, key, tmp_path):
    outcome, _ = run_flow(openai_teacher(openai_server), problems(3, {1: "[[big]]"}), tmp_path)
    assert outcome.answered == 3 and not outcome.unanswered
    with ResponseCache(tmp_path / "cache") as cache:
        assert (
            sum(
                len(r.reasoning_content or "") > 400_000
                for r in cache.get_many([key for key, _ in cache.index.entries()]).values()
            )
            == 1
        )


def test_a_batch_that_failed_validation_leaves_every_request_with_the_providers_reason(
    openai_server, key, tmp_path
):
    openai_server.reject_input = True
    outcome, _ = run_flow(openai_teacher(openai_server, retry_failed="none"), problems(3), tmp_path)
    assert outcome.answered == 0
    assert set(outcome.unanswered.values()) == {"failed: line 1: invalid_request: rejected by the test"}
    summary = json.loads((tmp_path / "runs/Solve/batches/outcome.json").read_text())
    assert summary["unanswered_reasons"] == {"failed": 3} and summary["submitted_batches"] == 1
