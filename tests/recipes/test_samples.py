"""Several answers per question: k requests that cache apart, k rows, each verified, billed once."""

from __future__ import annotations

import hashlib
import json

import pytest
from thoughtmill.curation.engine.request import Request, canonical_json
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.generate import GenerateTraces
from thoughtmill.curation.pipeline.config import config_from_dict
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.pipeline.stage import load_dataset_at

from tests.pipeline.helpers import SCRIPT, http_config
from tests.recipes.conftest import quiet
from tests.support.fake_teacher import FakeTeacher


@pytest.fixture
def teacher():
    server = FakeTeacher(script=SCRIPT)
    server.start_in_thread()
    yield server
    server.stop()


def _generated(tmp_path):
    return load_dataset_at(tmp_path / "run" / "generate" / "engine" / "dataset", what="test").to_list()


def test_k_samples_send_k_requests_keep_k_rows_and_rerun_sends_none(tmp_path, teacher):
    config = http_config(tmp_path, teacher.base_url)
    config.stages.generate.samples_per_question = 3
    report = run_pipeline(config, echo=quiet)
    assert report["generate"]["status"] == "ran"
    assert teacher.stats()["requests"] == 18  # 6 questions x 3
    rows = _generated(tmp_path)
    assert len(rows) == 18
    per_question: dict[str, list[int]] = {}
    for row in rows:
        per_question.setdefault(row["id"], []).append(row["sample_index"])
    assert len(per_question) == 6 and all(sorted(v) == [0, 1, 2] for v in per_question.values())
    verified = load_dataset_at(tmp_path / "run" / "verify" / "verified.arrow", what="test")
    assert len(verified) == 18 and sum(verified["verified"]) == 12  # per answer: 4 right questions x 3
    summary = load_marker(tmp_path, "generate")
    assert summary["questions"] == 6 and summary["rows"] == 18 and summary["failed"] == {}
    assert summary["engine"]["requests_sent"] == 18  # each completion billed once

    # a fresh run directory sharing nothing but the cache: every sample is answered from it
    again = config.model_copy(deep=True)
    again.run_dir = str(tmp_path / "run2")
    again.cache_dir = str(tmp_path / "run" / "cache")
    run_pipeline(again, echo=quiet)
    assert teacher.stats()["requests"] == 18


def test_more_samples_later_sends_only_the_new_ones(tmp_path, teacher):
    config = http_config(tmp_path, teacher.base_url)
    run_pipeline(config, until="generate", echo=quiet)
    assert teacher.stats()["requests"] == 6
    config.stages.generate.samples_per_question = 3
    report = run_pipeline(config, until="generate", echo=quiet)
    assert report["generate"]["status"] == "ran"
    assert teacher.stats()["requests"] == 18  # sample 0 came from the cache of the first run


def test_samples_per_domain(tmp_path, teacher):
    config = http_config(tmp_path, teacher.base_url)
    config.stages.generate.samples_per_question = {"code": 16, "default": 2}
    run_pipeline(config, until="generate", echo=quiet)
    assert teacher.stats()["requests"] == 12 and len(_generated(tmp_path)) == 12  # math gets the default


def test_samples_per_question_is_checked_when_the_config_loads(tmp_path):
    base = http_config(tmp_path, "http://127.0.0.1:9/v1").model_dump(mode="json")
    for bad, message in (({"cooking": 2}, "unknown domain 'cooking'"), (0, "at least 1")):
        base["stages"]["generate"]["samples_per_question"] = bad
        with pytest.raises(ConfigError, match=message):
            config_from_dict(base)


def test_sample_zero_keeps_the_key_old_caches_hold(tmp_path):
    """The cache key of a request without samples (and of sample 0) is the one written before samples
    existed: sha256 of the canonical model, messages, params, schema and endpoint, pinned here."""
    payload = {
        "model": "m",
        "messages": [{"role": "user", "content": "hello"}],
        "params": {"temperature": 0.5},
        "schema": None,
        "endpoint": "http://a/v1",
    }
    request = Request(
        model="m",
        messages=({"role": "user", "content": "hello"},),
        params={"temperature": 0.5},
        endpoint="http://a/v1",
    )
    pinned = "cef34b5960024553a8845b24ccafbd792a5c605e7fe67cdbe16ca99aa122e0a1"
    assert request.cache_key() == hashlib.sha256(canonical_json(payload).encode()).hexdigest() == pinned
    keys = {Request(**{**request.__dict__, "sample_index": k}).cache_key() for k in range(4)}
    assert pinned in keys and len(keys) == 4


def test_sample_zero_request_equals_a_plain_row_and_seeds_move_per_sample(tmp_path):
    teacher = {
        "name": "t", "provider": "openai", "model": "m", "base_urls": ["http://127.0.0.1:9/v1"],
        "generation": {"temperature": 0.6, "seed": 7},
    }  # fmt: skip
    llm = GenerateTraces(teacher, working_dir=tmp_path)
    row = {"problem": "Compute $1+1$.", "domain": "math", "source": "math"}
    plain = llm.build_request(0, row)
    zero = llm.build_request(0, {**row, "sample_index": 0})
    two = llm.build_request(0, {**row, "sample_index": 2})
    assert plain.cache_key() == zero.cache_key() and plain.params["seed"] == 7
    assert two.cache_key() != plain.cache_key() and two.params["seed"] == 9 and two.sample_index == 2


def test_seeded_samples_get_different_answers(tmp_path):
    with FakeTeacher() as server:  # no script: the answer is a hash of the request, seed included
        config = http_config(tmp_path, server.base_url, generation={"seed": 1})
        config.stages.generate.samples_per_question = 2
        run_pipeline(config, until="generate", echo=quiet)
    rows = _generated(tmp_path)
    by_question: dict[str, set[str]] = {}
    for row in rows:
        by_question.setdefault(row["id"], set()).add(row["deepseek_solution"])
    assert all(len(answers) == 2 for answers in by_question.values())


def load_marker(tmp_path, stage):
    return json.loads((tmp_path / "run" / stage / "_done.json").read_text())["summary"]


def test_samples_in_shards_count_once_and_the_card_says_k(tmp_path, teacher):
    data = http_config(tmp_path, teacher.base_url).model_dump(mode="json")
    data["executor"] = {"name": "local", "shards": 2}
    data["stages"]["generate"]["samples_per_question"] = 3
    config = config_from_dict(data)
    run_pipeline(config, echo=quiet)
    assert teacher.stats()["requests"] == 18
    summary = load_marker(tmp_path, "generate")
    assert summary["questions"] == 6 and summary["rows"] == 18 and summary["failed"] == {}
    card = (tmp_path / "run" / "output" / "README.md").read_text()
    assert "answers: 18 (per question: math: 3)" in card
