"""Answers committed in batches: the window still bounds what is unsaved, twins still send once."""

from __future__ import annotations

import pytest
from thoughtmill.curation.engine import LLM, feed, runner
from thoughtmill.curation.engine.backends.openai_http import OpenAIBackend
from thoughtmill.curation.engine.cache import CacheWriter, ResponseCache
from thoughtmill.curation.errors import CurationError

from .conftest import teacher_for

LINEAGE_RECORDS = 1  # the cache also records the one replica it served (endpoint_lineage)


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {"id": row["id"], "answer": response.content}


def slow_commits(monkeypatch: pytest.MonkeyPatch, delay: float, max_batch: int = 10_000) -> dict[str, int]:
    """Make the engine's cache writer commit only every ``delay`` seconds or ``max_batch`` answers."""
    counts = {"committed": 0}

    class SlowWriter(CacheWriter):
        def __init__(self, cache: ResponseCache, **_: object) -> None:
            super().__init__(cache, max_batch=max_batch, delay=delay)

        def flush(self) -> None:
            counts["committed"] += len(self._batch)
            super().flush()

    monkeypatch.setattr(runner, "CacheWriter", SlowWriter)
    return counts


def disk_full(self: ResponseCache, items: object) -> None:
    raise OSError(28, "No space left on device")


def test_uncommitted_answers_count_against_the_window(server, api_key, tmp_path, monkeypatch):
    counts = slow_commits(monkeypatch, delay=0.2)  # ample time to fill the window between commits
    unsaved: list[int] = []
    sent = {"n": 0}
    complete = OpenAIBackend.complete

    async def counting(self, request):
        sent["n"] += 1
        unsaved.append(sent["n"] - counts["committed"])
        return await complete(self, request)

    monkeypatch.setattr(OpenAIBackend, "complete", counting)
    llm = Solve(teacher_for(server, max_concurrency=4), working_dir=tmp_path, progress=False, max_in_flight=6)
    out = llm([{"id": i, "problem": f"question {i}"} for i in range(60)])
    assert out["id"] == list(range(60))
    assert max(unsaved) == 6, "sent-but-unsaved requests reach the window and never pass it"
    assert len(ResponseCache(tmp_path / "cache")) == 60 + LINEAGE_RECORDS


def test_a_twin_in_a_later_chunk_is_served_from_the_uncommitted_answer(
    server, api_key, tmp_path, monkeypatch
):
    # 100 workers; commits every 90 answers. The second lookup chunk is read after ~157 rows are
    # done: row 100 is answered by then, no longer in flight, and waits in the second batch.
    slow_commits(monkeypatch, delay=30.0, max_batch=90)
    data = [{"id": i, "problem": f"question {i}"} for i in range(feed._LOOKUP_CHUNK + 20)]
    data[-1]["problem"] = data[100]["problem"]
    teacher = teacher_for(server, max_concurrency=100)
    out = Solve(teacher, working_dir=tmp_path, progress=False, max_in_flight=100)(data)
    assert out[-1]["answer"] == out[100]["answer"]
    stats = server.stats(brief=True)
    assert stats["requests"] == len(data) - 1 and stats["duplicate_requests"] == 0
    committed = len(ResponseCache(tmp_path / "cache")) - LINEAGE_RECORDS
    assert committed == len(data) - 1, "all committed when the run closed"


def test_a_cache_that_cannot_store_stops_the_run_naming_it(server, api_key, tmp_path, monkeypatch):
    monkeypatch.setattr(ResponseCache, "put_many", disk_full)
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    with pytest.raises(CurationError, match=r"cannot store answers in the cache at .*No space left"):
        llm([{"id": i, "problem": f"question {i}"} for i in range(50)])
    assert server.stats(brief=True)["requests"] < 50, (
        "the run stopped instead of paying for answers it cannot keep"
    )


def test_twins_both_waiting_for_a_window_place_are_sent_once(server, api_key, tmp_path, monkeypatch):
    # window 2, two workers, a commit only every 2 answers: after rows 0 and 1 are answered, the
    # worker holding row 2 waits for a place; its twin (row 3) must wait for it, not send it again
    slow_commits(monkeypatch, delay=30.0, max_batch=2)
    data = [{"id": i, "problem": p} for i, p in enumerate(["a", "b", "c", "c", "d", "e"])]
    teacher = teacher_for(server, max_concurrency=2)
    out = Solve(teacher, working_dir=tmp_path, progress=False, max_in_flight=2)(data)
    assert out[3]["answer"] == out[2]["answer"]
    stats = server.stats(brief=True)
    assert stats["duplicate_requests"] == 0 and stats["requests"] == 5


def test_a_twin_whose_answer_was_committed_after_the_lookup_is_not_sent_again(
    server, api_key, tmp_path, monkeypatch
):
    # chunks of 4 rows, one worker, a commit every 5 answers: when the second chunk is looked up,
    # row 3's answer is still uncommitted; it is committed (row 4's answer fills the batch) before
    # its twin, row 5, is handed out
    monkeypatch.setattr(feed, "_LOOKUP_CHUNK", 4)
    slow_commits(monkeypatch, delay=30.0, max_batch=5)
    data = [{"id": i, "problem": p} for i, p in enumerate(["a", "b", "c", "d", "e", "d", "f"])]
    teacher = teacher_for(server, max_concurrency=1)
    out = Solve(teacher, working_dir=tmp_path, progress=False, max_in_flight=8)(data)
    assert out[5]["answer"] == out[3]["answer"]
    stats = server.stats(brief=True)
    assert stats["duplicate_requests"] == 0 and stats["requests"] == 6


class Picky(Solve):
    def parse(self, row, response):
        if row["id"] % 7 == 0:
            raise ValueError("a bug in parse")
        return super().parse(row, response)


def assert_window_closed_clean(llm: LLM) -> None:
    engine = llm.last_run
    assert engine._window._value == engine.max_in_flight, "every window place was given back exactly once"
    assert not engine._in_flight and not engine._cache_writer._batch and not engine._cache_writer._uncommitted


def test_no_window_place_leaks_or_doubles_after_a_run_full_of_faults(server, api_key, tmp_path, monkeypatch):
    slow_commits(monkeypatch, delay=0.002, max_batch=3)
    faults = ["[[fault:400:*]]", "[[fault:500:*]]", "[[fault:truncated:*]]", "[[fault:drop:1]]", ""]
    data = [{"id": i, "problem": f"q{i % 40} {faults[i % 5]}"} for i in range(120)]  # twins of failures too
    teacher = teacher_for(server, max_concurrency=3, on_length="drop", retry={"max_attempts": 2})
    # a window wider than the run: a leaked place shows in the count instead of hanging the run
    llm = Picky(teacher, working_dir=tmp_path, progress=False, max_in_flight=1000)
    llm(data)
    assert_window_closed_clean(llm)
    assert llm.stats["failures"] > 0 and llm.stats["retries"] > 0


def test_no_window_place_leaks_when_bad_credentials_cancel_the_workers(
    server, api_key, tmp_path, monkeypatch
):
    from thoughtmill.curation.errors import AuthenticationError

    # window 3, three workers, nothing committed until the end: rows 0 and 1 are answered and hold
    # their places, so the workers that take rows 3 and 4 wait for a place when row 2's 401 cancels them
    slow_commits(monkeypatch, delay=30.0)
    data = [{"id": i, "problem": f"q{i}"} for i in range(40)]
    data[2]["problem"] += " [[fault:slow:300]][[fault:401:*]]"
    llm = Solve(teacher_for(server, max_concurrency=3), working_dir=tmp_path, progress=False, max_in_flight=3)
    with pytest.raises(AuthenticationError):
        llm(data)
    assert server.stats(brief=True)["requests"] == 3
    assert_window_closed_clean(llm)


def test_on_failure_raise_gives_every_window_place_back(server, api_key, tmp_path):
    data = [{"id": i, "problem": f"q{i}" + (" [[fault:404:*]]" if i == 30 else "")} for i in range(200)]
    llm = Solve(
        teacher_for(server, max_concurrency=4), working_dir=tmp_path, progress=False, on_failure="raise"
    )
    with pytest.raises(CurationError, match="row 30"):
        llm(data)
    assert_window_closed_clean(llm)


def test_a_failed_final_commit_stops_the_run_and_is_in_the_summary(server, api_key, tmp_path, monkeypatch):
    import json

    slow_commits(monkeypatch, delay=30.0)  # nothing is committed before the run closes its writer
    monkeypatch.setattr(ResponseCache, "put_many", disk_full)
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False, max_in_flight=20)
    with pytest.raises(CurationError, match=r"cannot store answers in the cache at .*No space left"):
        llm([{"id": i, "problem": f"question {i}"} for i in range(10)])
    summary = json.loads(llm.last_run.paths.summary.read_text())
    assert "No space left" in summary["fatal_error"]
    assert not llm.last_run.paths.dataset.exists(), "no output built from answers the cache lost"
    assert_window_closed_clean(llm)


def test_rows_waiting_for_a_window_place_are_not_sent_once_the_cache_fails(
    server, api_key, tmp_path, monkeypatch
):
    # window 4, four workers, a commit every 4 answers: when the first commit fails, three workers are
    # waiting for a place with rows 4 and 6 (row 5, their twin, waits for row 4); the places the
    # failed batch gives back must not send them, and row 5 is not recorded as a failure
    slow_commits(monkeypatch, delay=30.0, max_batch=4)
    monkeypatch.setattr(ResponseCache, "put_many", disk_full)
    data = [{"id": i, "problem": f"question {i}"} for i in range(20)]
    data[5]["problem"] = data[4]["problem"]
    llm = Solve(teacher_for(server, max_concurrency=4), working_dir=tmp_path, progress=False, max_in_flight=4)
    with pytest.raises(CurationError, match="No space left"):
        llm(data)
    assert server.stats(brief=True)["requests"] == 4, "no answer paid for after the cache stopped storing"
    assert llm.last_run.paths.failures.read_text() == ""
    assert_window_closed_clean(llm)
