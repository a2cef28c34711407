"""Adding or dropping a replica in ``base_urls`` keeps the cached answers; another endpoint does not.

Real fake teachers on 127.0.0.1; "paid" means requests the servers received.
"""

from __future__ import annotations

import logging
import shutil

import pytest
from thoughtmill.curation.engine import LLM

from tests.support.fake_teacher import FakeTeacher

from .conftest import API_KEY, teacher_for


class Ask(LLM):
    def prompt(self, row):
        return row["q"]


ROWS = [{"q": f"question {i}"} for i in range(12)]


@pytest.fixture
def servers():
    started = []
    for _ in range(3):
        teacher = FakeTeacher(answer_bytes=100, api_key=API_KEY)
        teacher.start_in_thread()
        started.append(teacher)
    yield started
    for teacher in started:
        teacher.stop()


def _paid(servers) -> int:
    return sum(s.stats(brief=True)["requests"] for s in servers)


def _run(tmp_path, *servers_used, **kw):
    return Ask(teacher_for(*servers_used, **kw), working_dir=tmp_path, progress=False)(ROWS)


def test_adding_then_dropping_replicas_pays_nothing_again(servers, api_key, tmp_path):
    a, b, c = servers
    first = _run(tmp_path, a)
    assert _paid(servers) == len(ROWS)
    # a replica added for the resumed run: every answer still comes from the cache
    assert _run(tmp_path, a, b)["response"] == first["response"]
    # the first replica retired, a third added: still the same endpoint, still nothing paid
    assert _run(tmp_path, b, c)["response"] == first["response"]
    assert _run(tmp_path, c)["response"] == first["response"]
    assert _paid(servers) == len(ROWS)


def test_new_rows_after_adding_a_replica_land_in_the_same_cache(servers, api_key, tmp_path):
    a, b, _ = servers
    Ask(teacher_for(a), working_dir=tmp_path, progress=False)(ROWS[:6])
    Ask(teacher_for(a, b), working_dir=tmp_path, progress=False)(ROWS)  # 6 new rows, spread over a and b
    assert _paid(servers) == len(ROWS)
    _run(tmp_path, a)  # back to one replica: all 12 answers are there
    assert _paid(servers) == len(ROWS)


def test_an_endpoint_sharing_no_replica_is_another_endpoint(servers, api_key, tmp_path):
    a, b, _ = servers
    _run(tmp_path, a)
    _run(tmp_path, b)  # not a replica of a: its answers may differ, so they are asked for
    assert _paid(servers) == 2 * len(ROWS)


def test_merging_two_recorded_endpoints_says_which_answers_it_uses(servers, api_key, tmp_path, caplog):
    a, b, _ = servers
    _run(tmp_path, a)
    _run(tmp_path, b)
    with caplog.at_level(logging.WARNING, logger="thoughtmill.engine"):
        _run(tmp_path, a, b)
    assert _paid(servers) == 2 * len(ROWS)  # one of the two recorded sets serves every row
    assert "cached as 2 separate endpoints" in caplog.text


def test_the_record_survives_a_lost_index_and_a_copied_working_dir(servers, api_key, tmp_path):
    a, b, _ = servers
    _run(tmp_path / "w", a)
    (tmp_path / "w" / "cache" / "index.sqlite").unlink(missing_ok=True)
    for stale in (tmp_path / "w" / "cache").glob("index.sqlite*"):
        stale.unlink()
    shutil.copytree(tmp_path / "w", tmp_path / "copy")
    _run(tmp_path / "copy", a, b)  # index rebuilt from the segments, lineage records included
    assert _paid(servers) == len(ROWS)


def test_cache_namespace_still_decides_when_set(servers, api_key, tmp_path):
    a, b, _ = servers
    _run(tmp_path, a, cache_namespace="team-r1")
    _run(tmp_path, b, cache_namespace="team-r1")
    assert _paid(servers) == len(ROWS)
