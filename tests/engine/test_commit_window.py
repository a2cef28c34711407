"""Answers committed in batches: the window still bounds what is unsaved, twins still send once."""

from __future__ import annotations

import pytest

from curation.engine import LLM, runner
from curation.engine.backends.openai_http import OpenAIBackend
from curation.engine.cache import CacheWriter, ResponseCache
from curation.errors import CurationError

from .conftest import teacher_for


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
    assert len(ResponseCache(tmp_path / "cache")) == 60


def test_a_twin_in_a_later_chunk_is_served_from_the_uncommitted_answer(server, api_key, tmp_path, monkeypatch):
    # 100 workers; commits every 90 answers. The second lookup chunk is read after ~157 rows are
    # done: row 100 is answered by then, no longer in flight, and waits in the second batch.
    slow_commits(monkeypatch, delay=30.0, max_batch=90)
    data = [{"id": i, "problem": f"question {i}"} for i in range(runner._LOOKUP_CHUNK + 20)]
    data[-1]["problem"] = data[100]["problem"]
    teacher = teacher_for(server, max_concurrency=100)
    out = Solve(teacher, working_dir=tmp_path, progress=False, max_in_flight=100)(data)
    assert out[-1]["answer"] == out[100]["answer"]
    stats = server.stats(brief=True)
    assert stats["requests"] == len(data) - 1 and stats["duplicate_requests"] == 0
    assert len(ResponseCache(tmp_path / "cache")) == len(data) - 1, "all committed when the run closed"


def test_a_cache_that_cannot_store_stops_the_run_naming_it(server, api_key, tmp_path, monkeypatch):
    def disk_full(self, items):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ResponseCache, "put_many", disk_full)
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    with pytest.raises(CurationError, match=r"cannot store answers in the cache at .*No space left"):
        llm([{"id": i, "problem": f"question {i}"} for i in range(50)])
    assert server.stats(brief=True)["requests"] < 50, "the run stopped instead of paying for answers it cannot keep"
