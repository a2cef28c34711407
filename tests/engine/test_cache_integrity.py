"""A cache you can bet a run on: altered bytes are never served, a torn or lost file costs no money."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from thoughtmill.curation.cli import app
from thoughtmill.curation.engine import LLM
from thoughtmill.curation.engine.cache import ResponseCache
from thoughtmill.curation.engine.request import Response, Usage
from typer.testing import CliRunner

from .conftest import teacher_for

ROOT = Path(__file__).resolve().parents[2]


def answer(i: int) -> Response:
    return Response(
        content=f"answer {i} " + "x" * 40,
        reasoning_content=f"thought {i}",
        finish_reason="stop",
        usage=Usage(prompt_tokens=i, completion_tokens=2 * i),
        model="m",
        from_cache=True,
    )


def filled(directory: Path, n: int = 20) -> dict[str, Response]:
    items = {f"k{i}": answer(i) for i in range(n)}
    with ResponseCache(directory) as cache:
        cache.put_many(list(items.items()))
    return items


def segment(directory: Path) -> Path:
    (seg,) = (directory / "segments").glob("*.seg")
    return seg


def flip(path: Path, needle: bytes) -> None:
    """Change one byte inside the first occurrence of ``needle`` (an answer's text)."""
    data = bytearray(path.read_bytes())
    at = data.index(needle)
    data[at] ^= 0x20
    path.write_bytes(bytes(data))


def index_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.startswith("index")]


# ---- the store itself ----------------------------------------------------------------------------


def test_a_flipped_byte_in_a_segment_is_reported_and_never_served(tmp_path, caplog):
    items = filled(tmp_path)
    flip(segment(tmp_path), b"answer 7 ")
    with ResponseCache(tmp_path) as cache, caplog.at_level(logging.WARNING):
        assert cache.get("k7") is None, "an altered answer is treated as missing"
        found = cache.get_many(list(items))
        assert set(found) == set(items) - {"k7"}
        assert all(found[key] == items[key] for key in found)
        assert cache.corrupt_entries >= 1
    assert "k7" in caplog.text and "checksum" in caplog.text


def test_a_truncated_segment_loses_only_its_tail_and_raises_nothing(tmp_path):
    items = filled(tmp_path)
    seg = segment(tmp_path)
    os.truncate(seg, seg.stat().st_size - 30)  # the last answer is torn
    with ResponseCache(tmp_path) as cache:
        found = cache.get_many(list(items))
        assert set(found) == set(items) - {"k19"}
        assert cache.get("k19") is None
        cache.put("k19", answer(19))  # asked again: stored after the torn bytes, read back whole
        assert cache.get("k19") == answer(19)
    with ResponseCache(tmp_path) as cache:
        assert cache.get_many(list(items)) == items


def test_a_deleted_index_is_rebuilt_from_the_segments(tmp_path):
    items = filled(tmp_path)
    for path in index_files(tmp_path):
        path.unlink()
    with ResponseCache(tmp_path) as cache:
        assert len(cache) == len(items)
        assert cache.get_many(list(items)) == items


def test_a_garbage_index_is_rebuilt_from_the_segments(tmp_path, caplog):
    items = filled(tmp_path)
    for path in index_files(tmp_path):
        path.unlink()
    (tmp_path / "index.sqlite").write_bytes(os.urandom(8192))
    with caplog.at_level(logging.WARNING), ResponseCache(tmp_path) as cache:
        assert cache.get_many(list(items)) == items
    assert "rebuil" in caplog.text


def test_a_copied_directory_reads_its_own_files(tmp_path):
    items = filled(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    with ResponseCache(tmp_path / "b") as cache:
        assert cache.get_many(list(items)) == items


WRITER = """
import sys
from thoughtmill.curation.engine.cache import ResponseCache
from thoughtmill.curation.engine.request import Response
cache = ResponseCache(sys.argv[1])
tag, n = sys.argv[2], int(sys.argv[3])
for start in range(0, n, 50):
    cache.put_many([(f"shared{i}" if i % 5 == 0 else f"{tag}{i}", Response(content=f"{tag} {i}")) for i in range(start, start + 50)])
cache.close()
"""


def test_two_writers_at_once_lose_nothing(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), tag, "2000"], env=env) for tag in "ab"
    ]
    assert [w.wait(120) for w in writers] == [0, 0]
    with ResponseCache(tmp_path) as cache:
        keys = [f"{tag}{i}" for tag in "ab" for i in range(2000) if i % 5] + [
            f"shared{i}" for i in range(0, 2000, 5)
        ]
        found = cache.get_many(keys)
        assert len(found) == len(keys) == len(cache)
        assert found["a1"].content == "a 1" and found["b1"].content == "b 1"
    report = CliRunner().invoke(app, ["cache", "check", str(tmp_path)])
    assert report.exit_code == 0, report.output


# ---- the commands ----------------------------------------------------------------------------------


def test_cache_check_names_a_bad_entry_and_rebuild_restores_a_lost_index(tmp_path):
    items = filled(tmp_path)
    runner = CliRunner()
    clean = runner.invoke(app, ["cache", "check", str(tmp_path)])
    assert clean.exit_code == 0 and "20 entries" in clean.output and "0 bad" in clean.output

    flip(segment(tmp_path), b"answer 3 ")
    bad = runner.invoke(app, ["cache", "check", str(tmp_path)])
    assert bad.exit_code == 1 and "k3" in bad.output and "1 bad" in bad.output

    for path in index_files(tmp_path):
        path.unlink()
    rebuilt = runner.invoke(app, ["cache", "rebuild", str(tmp_path)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "19 entries" in rebuilt.output and "1 damaged stretch" in rebuilt.output
    with ResponseCache(tmp_path) as cache:
        assert len(cache) == 19 and cache.get("k3") is None
        assert cache.get_many(list(items)) == {k: v for k, v in items.items() if k != "k3"}


def test_cache_commands_on_a_missing_directory_say_so(tmp_path):
    result = CliRunner().invoke(app, ["cache", "check", str(tmp_path / "nope")])
    assert result.exit_code != 0 and "no cache" in result.output.lower()


# ---- through the engine: re-asked, counted, never paid twice -------------------------------------------


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {"id": row["id"], "answer": response.content}


def rows(n: int) -> list[dict]:
    return [{"id": i, "problem": f"problem {i}"} for i in range(n)]


def summary(llm: LLM) -> dict:
    return json.loads(llm.last_run.paths.summary.read_text())


def test_an_altered_answer_is_asked_again_and_counted_in_the_summary(server, api_key, tmp_path):
    first = Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(10))
    flip(segment(tmp_path / "cache"), first[4]["answer"][:20].encode())
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    again = llm(rows(10))
    assert again.to_list() == first.to_list(), "the altered text never reaches the output"
    assert server.stats(brief=True)["requests"] == 11, "only the altered answer was asked again"
    assert summary(llm)["cache_corrupt"] == 1 and summary(llm)["cache_hits"] == 9


def test_a_lost_index_costs_no_money(server, api_key, tmp_path):
    first = Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(10))
    for path in index_files(tmp_path / "cache"):
        path.unlink()
    again = Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(10))
    assert again.to_list() == first.to_list()
    assert server.stats(brief=True)["requests"] == 10


@pytest.mark.parametrize("cut", [1, 30, 200])
def test_a_truncated_segment_costs_only_the_torn_answers(server, api_key, tmp_path, cut):
    first = Solve(teacher_for(server), working_dir=tmp_path, progress=False)(rows(10))
    seg = segment(tmp_path / "cache")
    os.truncate(seg, seg.stat().st_size - cut)
    llm = Solve(teacher_for(server), working_dir=tmp_path, progress=False)
    again = llm(rows(10))
    assert again.to_list() == first.to_list()
    assert server.stats(brief=True)["requests"] == 11  # the last answer written was torn


def test_a_damaged_record_header_costs_that_record_only_even_when_rebuilding(tmp_path):
    items = filled(tmp_path)
    seg = segment(tmp_path)
    data = bytearray(seg.read_bytes())
    at = data.index(b"answer 5 ")
    header = data.rfind(b"TMc1", 0, at)
    data[header + 5] ^= 0xFF  # the key length: the record's extent can no longer be trusted
    seg.write_bytes(bytes(data))
    with ResponseCache(tmp_path) as cache:
        assert set(cache.get_many(list(items))) == set(items) - {"k5"}
    for path in index_files(tmp_path):
        path.unlink()
    with ResponseCache(tmp_path) as cache:  # the scan finds the next record by its magic
        assert cache.get_many(list(items)) == {k: v for k, v in items.items() if k != "k5"}


HOLDER = """
import sys, time
from thoughtmill.curation.engine.cache import ResponseCache
cache = ResponseCache(sys.argv[1])
print("OPEN", flush=True)
time.sleep(60)
"""


def test_a_garbage_index_of_a_cache_in_use_elsewhere_is_a_clear_error_and_rebuild_waits_for_it(tmp_path):
    from thoughtmill.curation.engine.cache_index import IndexDamaged

    filled(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "OPEN"
        busy = CliRunner().invoke(app, ["cache", "rebuild", str(tmp_path)])
        assert busy.exit_code == 1 and "in use by" in busy.output, busy.output
        for path in index_files(tmp_path):
            path.unlink()
        (tmp_path / "index.sqlite").write_bytes(b"not a database at all" * 100)
        with pytest.raises(
            IndexDamaged,
            match=r"damaged .*cache rebuild .*another process has this cache open: stop it first",
        ):
            ResponseCache(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    with ResponseCache(tmp_path) as cache:  # alone now: rebuilt on opening
        assert len(cache) == 20


# ---- many processes opening one new cache at the same instant -----------------------------------------

OPEN_AT = """
import sys, time
from pathlib import Path
start = float(sys.argv[2])
while time.time() < start:
    pass
from thoughtmill.curation.engine.cache import ResponseCache
ResponseCache(Path(sys.argv[1])).close()
"""


def test_ranks_opening_one_new_cache_at_the_same_instant_all_open_it(tmp_path):
    """SQLite refuses the switch to WAL at once ("database is locked", no busy wait) while another
    process makes the same switch: seen once in 60 opens of six processes before the retry."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for round_ in range(3):
        start = time.time() + 1.5  # every process imports first, then they open together
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, str(tmp_path / f"c{round_}"), str(start)],
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(6)
        ]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert all(p.returncode == 0 for p in procs), [e.strip().splitlines()[-1:] for e in errors if e]


def test_the_switch_to_wal_waits_for_a_busy_file_instead_of_failing():
    from thoughtmill.curation.engine.cache_index import _enter_wal

    class Busy:
        """A connection whose file is being switched by another process for its first two tries."""

        def __init__(self) -> None:
            self.tries = 0

        def execute(self, sql: str) -> None:
            self.tries += 1
            if self.tries <= 2:
                raise sqlite3.OperationalError("database is locked")

    db = Busy()
    _enter_wal(db)  # type: ignore[arg-type]
    assert db.tries == 3
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _enter_wal(Busy(), patience_s=0)  # type: ignore[arg-type]
