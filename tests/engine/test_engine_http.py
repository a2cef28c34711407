"""The engine against a real HTTP server (the project's fake teacher on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from thoughtmill.curation.engine import LLM
from thoughtmill.curation.errors import AuthenticationError, CurationError

from .conftest import API_KEY, teacher_for


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {
            "id": row["id"],
            "answer": response.content,
            "thinking": response.reasoning_content,
            "finish": response.finish_reason,
        }


def rows(n: int, tag: str = "") -> list[dict]:
    return [{"id": i, "problem": f"problem {i}{tag}"} for i in range(n)]


def summary(llm: LLM) -> dict:
    return json.loads(llm.last_run.paths.summary.read_text())


def failures(llm: LLM) -> list[dict]:
    return [json.loads(line) for line in llm.last_run.paths.failures.read_text().splitlines()]


def test_run_returns_rows_in_input_order_with_reasoning_and_usage(server, api_key, tmp_path):
    out = Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(40))
    assert out["id"] == list(range(40))
    assert all(len(a) == 300 for a in out["answer"])
    assert all(t and len(t) == 200 for t in out["thinking"])
    stats = server.stats(brief=True)
    assert stats["requests"] == 40 and stats["duplicate_requests"] == 0
    assert stats["authorization"] == {f"Bearer {API_KEY}": 40}


def test_rerun_is_served_from_cache_and_identical(server, api_key, tmp_path):
    first = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    out1 = first(rows(25))
    second = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    out2 = second(rows(25))
    assert server.stats(brief=True)["requests"] == 25
    assert out1.to_list() == out2.to_list()
    assert summary(second)["cache_hits"] == 25 and summary(second)["requests_sent"] == 0


def test_changing_parse_keeps_the_cache(server, api_key, tmp_path):
    Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(10))

    class SolveShort(Solve):
        def parse(self, row, response):
            return {"id": row["id"], "first_word": response.content.split()[0]}

    out = SolveShort(teacher_for(server), working_dir=tmp_path, progress=False)(rows(10))
    assert server.stats(brief=True)["requests"] == 10
    assert out.column_names == ["id", "first_word"]


def test_changing_the_system_prompt_misses_the_cache(server, api_key, tmp_path):
    Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(5))
    Solve(teacher_for(server), working_dir=tmp_path, progress=False, system_prompt="Think step by step.")(
        rows(5)
    )
    assert server.stats(brief=True)["requests"] == 10


def test_usage_and_cost_are_accounted(server, api_key, tmp_path):
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    llm(rows(8))
    s = summary(llm)
    server_stats = server.stats(brief=True)
    assert s["prompt_tokens"] == server_stats["prompt_tokens"] > 0
    assert s["completion_tokens"] == server_stats["completion_tokens"] > 0
    expected = (s["prompt_tokens"] * 1.0 + s["completion_tokens"] * 2.0) / 1e6
    assert s["cost_usd"] == pytest.approx(expected)
    assert s["projected_cost_usd"] == pytest.approx(expected)


@pytest.mark.parametrize("fault", ["429:2:retry_after=0.05", "500:2", "503", "drop:2", "cut", "malformed:2"])
def test_transient_faults_are_retried_until_success(server, api_key, tmp_path, fault):
    data = rows(6)
    data[3]["problem"] += f" [[fault:{fault}]]"
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    out = llm(data)
    assert out["id"] == list(range(6))
    s = summary(llm)
    assert s["failures"] == 0 and s["retries"] >= 1
    assert server.stats()["per_prompt"][data[3]["problem"]] == s["retries"] + 1


def test_429_pauses_every_request_for_retry_after(server, api_key, tmp_path):
    import time

    data = rows(12)
    data[0]["problem"] += " [[fault:429:1:retry_after=0.6]]"
    llm = Solve(teacher_for(server, max_concurrency=1), working_dir=tmp_path, progress=False, max_in_flight=1)
    started = time.monotonic()
    llm(data)
    assert time.monotonic() - started >= 0.6
    assert summary(llm)["rate_limited"] == 1


def test_retries_exhausted_is_recorded_not_fatal(server, api_key, tmp_path):
    data = rows(5)
    data[2]["problem"] += " [[fault:500:*]]"
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    out = llm(data)
    assert out["id"] == [0, 1, 3, 4]
    [failure] = failures(llm)
    assert failure["row"] == 2 and failure["reason"] == "retries_exhausted" and "500" in failure["error"]
    assert server.stats()["per_prompt"][data[2]["problem"]] == 4  # max_attempts


def test_400_is_not_retried(server, api_key, tmp_path):
    data = rows(3)
    data[1]["problem"] += " [[fault:400:*]]"
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    llm(data)
    assert server.stats()["per_prompt"][data[1]["problem"]] == 1
    assert failures(llm)[0]["reason"] == "http_400"


def test_401_stops_the_run_at_once(server, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_TEACHER_KEY", "sk-wrong")
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    with pytest.raises(AuthenticationError, match="401"):
        llm(rows(2000))
    assert server.stats(brief=True)["requests"] <= 2 * 16 + 16  # a window's worth, not 2000


def test_missing_api_key_variable_fails_before_sending(server, monkeypatch, tmp_path):
    monkeypatch.delenv("FAKE_TEACHER_KEY", raising=False)
    with pytest.raises(CurationError, match="FAKE_TEACHER_KEY"):
        Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(3))
    assert server.stats(brief=True)["requests"] == 0


@pytest.mark.parametrize(("policy", "kept", "sent"), [("keep", 4, 4), ("drop", 3, 4), ("retry", 4, 5)])
def test_length_truncation_policies(server, api_key, tmp_path, policy, kept, sent):
    data = rows(4)
    data[1]["problem"] += " [[fault:truncated:1]]"
    llm = Solve(teacher_for(server, on_length=policy), working_dir=tmp_path, progress=False)
    out = llm(data)
    assert len(out) == kept
    assert server.stats(brief=True)["requests"] == sent
    assert summary(llm)["length_truncated"] == 1
    if policy == "keep":
        assert out[1]["finish"] == "length"
    rejected = [json.loads(line) for line in llm.last_run.paths.rejected.read_text().splitlines()]
    if policy == "retry":  # the cut answer was paid for: its text is kept before asking again
        assert [r["finish_reason"] for r in rejected] == ["length"] and rejected[0]["content"]
    else:
        assert rejected == []


def test_identical_requests_in_flight_are_sent_once(server, api_key, tmp_path):
    data = [{"id": i, "problem": "the same question"} for i in range(20)]
    out = Solve(teacher_for(server), working_dir=tmp_path, progress=False)(data)
    assert len(out) == 20 and len(set(out["answer"])) == 1
    assert server.stats(brief=True)["requests"] == 1


def test_secrets_never_land_in_cache_or_outputs(server, api_key, tmp_path):
    data = rows(4)
    data[0]["problem"] += " [[fault:400:*]]"
    Solve(teacher_for(server), working_dir=tmp_path, progress=False)(data)
    for path in Path(tmp_path).rglob("*"):
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


def test_on_failure_raise_stops_with_the_row_named(server, api_key, tmp_path):
    data = rows(5)
    data[2]["problem"] += " [[fault:404:*]]"
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False, on_failure="raise")
    with pytest.raises(CurationError, match="row 2"):
        llm(data)


def test_progress_logs_plain_lines_off_a_terminal(server, api_key, tmp_path, caplog):
    caplog.set_level("INFO", logger="thoughtmill.engine")
    Solve(teacher_for(server), working_dir=tmp_path)(rows(3))
    lines = [r.getMessage() for r in caplog.records if "rows" in r.getMessage()]
    assert lines and "3/3 rows" in lines[-1] and "req/s" in lines[-1] and "$" in lines[-1]
