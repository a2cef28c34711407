"""True cost across invocations and the hard budget, against the fake teacher over real HTTP.

Usage-based pricing: $1 per thousand tokens in and out, so each answer's cost is its token count
(what the fake teacher reports) over a thousand.
"""

from __future__ import annotations

import json
import logging

import pytest
from thoughtmill.curation.engine import LLM
from thoughtmill.curation.errors import CurationError

from tests.engine.conftest import teacher_for
from tests.report.conftest import DEMO

PRICING = {"input_per_million": 1000.0, "output_per_million": 1000.0}


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {"id": row["id"], "answer": response.content}


def rows(n: int) -> list[dict]:
    return [{"id": i, "problem": f"problem {i}"} for i in range(n)]


def teacher(server, **extra):
    return teacher_for(
        server,
        pricing=PRICING,
        max_concurrency=4,
        generation={"temperature": 0.7, "max_tokens": 150},
        **extra,
    )


def paid(server) -> float:
    """What the fake teacher billed so far, at PRICING."""
    stats = server.stats(brief=True)
    return (stats["prompt_tokens"] + stats["completion_tokens"]) / 1000


def summary(llm: LLM) -> dict:
    return json.loads(llm.last_run.paths.summary.read_text())


def test_cost_is_cumulative_across_invocations(server, api_key, tmp_path):
    Solve(teacher(server), working_dir=tmp_path, progress=False)(rows(10))
    first = paid(server)
    second = Solve(teacher(server), working_dir=tmp_path, progress=False)
    second(rows(20))
    s = summary(second)
    assert s["cache_hits"] == 10 and s["requests_sent"] == 10
    assert s["cost_usd"] == pytest.approx(paid(server) - first)  # what this invocation paid
    assert s["cached_cost_usd"] == pytest.approx(first)  # bought earlier, from the stored usage
    assert s["total_cost_usd"] == pytest.approx(paid(server))  # what the 20 answers cost in all


def test_budget_stops_sending_before_crossing_the_cap(server, api_key, tmp_path, caplog):
    per_answer = 0.128  # 3 prompt + 125 completion tokens
    cap = 10.5 * per_answer
    llm = Solve(teacher(server), working_dir=tmp_path, progress=False, budget_usd=cap)
    with caplog.at_level(logging.WARNING, logger="thoughtmill.engine"):
        out = llm(rows(40))
    s = summary(llm)
    assert paid(server) <= cap and s["total_cost_usd"] == pytest.approx(paid(server))
    sent = server.stats(brief=True)["requests"]
    assert len(out) == sent == 10 and s["not_sent_budget"] == 30
    assert any("budget_usd=$1.34 reached" in r.getMessage() and "higher cap" in r.getMessage()
               for r in caplog.records)  # fmt: skip

    # the same cap again: what was spent counts, nothing more is sent, the answered rows come back
    again = Solve(teacher(server), working_dir=tmp_path, progress=False, budget_usd=cap)
    assert len(again(rows(40))) == 10 and server.stats(brief=True)["requests"] == sent

    # a higher cap finishes the run, paying only for the rows not sent before
    done = Solve(teacher(server), working_dir=tmp_path, progress=False, budget_usd=100 * cap)
    assert len(done(rows(40))) == 40 and server.stats(brief=True)["requests"] == 40
    assert summary(done)["total_cost_usd"] == pytest.approx(paid(server))


def test_a_negative_budget_is_refused(server, tmp_path):
    with pytest.raises(ValueError, match="budget_usd"):
        Solve(teacher(server), working_dir=tmp_path, budget_usd=-1)


def test_the_demo_shows_what_its_recorded_answers_cost(demo_run):
    recorded = [json.loads(line) for line in (DEMO.parent / "demo" / "recorded_traces.jsonl").open()]
    prompt = sum(r["usage"]["prompt_tokens"] for r in recorded)
    completion = sum(r["usage"]["completion_tokens"] for r in recorded)
    marker = json.loads((demo_run / "generate" / "_done.json").read_text())
    engine = marker["summary"]["engine"]
    assert engine["completion_tokens"] == completion and engine["prompt_tokens"] == prompt
    assert engine["cost_usd"] == pytest.approx((prompt * 0.55 + completion * 2.19) / 1e6)
    assert "teacher cost" in (demo_run / "report.html").read_text()


def test_a_recorded_usage_that_is_not_a_mapping_counts_no_tokens(tmp_path):
    recording = tmp_path / "rec.jsonl"
    recording.write_text(json.dumps({"prompt": "a", "content": "x", "usage": "lots"}) + "\n")
    replay = {"name": "rec", "provider": "replay", "model": "m", "pricing": PRICING,
              "replay": {"path": str(recording)}}  # fmt: skip
    llm = Solve(replay, working_dir=tmp_path, progress=False)
    assert len(llm([{"id": 0, "problem": "a"}])) == 1
    s = summary(llm)
    assert s["prompt_tokens"] == 0 and s["completion_tokens"] == 0 and s["cost_usd"] == 0


def test_a_named_usage_column_must_exist(tmp_path):
    recording = tmp_path / "rec.jsonl"
    recording.write_text(json.dumps({"prompt": "a", "content": "x"}) + "\n")
    replay = {"name": "rec", "provider": "replay", "model": "m",
              "replay": {"path": str(recording), "usage_column": "tokens"}}  # fmt: skip
    with pytest.raises(CurationError, match="column 'tokens' not found"):
        Solve(replay, working_dir=tmp_path, progress=False)([{"id": 0, "problem": "a"}])
