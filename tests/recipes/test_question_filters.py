"""Question selection stages (mix, difficulty, response length) and verification as metadata only,
run through the pipeline against the fake teacher over real HTTP."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.pipeline.config import KeepRule, config_from_dict
from thoughtmill.curation.pipeline.filters_difficulty import DifficultyRating
from thoughtmill.curation.pipeline.mixing import equal_shares
from thoughtmill.curation.pipeline.question_filter import keep_mask
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.pipeline.stage import load_dataset_at

from tests.pipeline.helpers import SCRIPT, http_config
from tests.recipes.conftest import quiet
from tests.support.fake_teacher import FakeTeacher

SOURCES = Path(__file__).resolve().parents[1] / "data" / "sources"
NUMINA = Path(__file__).resolve().parents[1] / "data" / "pipeline" / "numina_small.jsonl"

#: Difficulty ratings by problem text; an unscripted problem gets the schema's minimum (1).
RATINGS = [
    {"match": "Petya loves lucky", "content": json.dumps({"reasoning": "r", "difficulty": 9})},
    {"match": "n chests", "content": json.dumps({"reasoning": "r", "difficulty": 8})},
    {"match": "n baskets", "content": json.dumps({"reasoning": "r", "difficulty": 5})},
    # not strictly an integer: never a score
    {"match": "array of integers", "content": json.dumps({"reasoning": "r", "difficulty": "7"})},
]
#: Long answers for two math problems (the cheap model's answers; others get 40 bytes).
ANSWERS = [
    {"match": "Compute $11 + 31$", "content": "x" * 800},
    {"match": "Compute $6 \\times 7$", "content": "y" * 400},
]


@pytest.fixture
def teacher():
    server = FakeTeacher(script=RATINGS + ANSWERS, answer_bytes=40)
    server.start_in_thread()
    yield server
    server.stop()


def fake(base_url: str) -> dict[str, Any]:
    return {
        "name": "fake", "provider": "openai", "model": "fake-mini", "base_urls": [base_url], "timeout_s": 10,
        "retry": {"max_attempts": 1, "max_invalid_structured": 0, "backoff_initial_s": 0.01, "backoff_max_s": 0.02},
    }  # fmt: skip


def selection_config(tmp_path: Path, base_url: str, **stages: Any) -> Any:
    sources = [
        {"name": "taco", "path": str(SOURCES / "taco.jsonl")},
        {"name": "apps", "path": str(SOURCES / "apps.jsonl")},
        {"name": "code_contests", "path": str(SOURCES / "code_contests.jsonl")},
        {"name": "codeforces", "path": str(SOURCES / "codeforces.jsonl")},
        {"name": "numina_math", "path": str(NUMINA)},
        {"name": "camel_physics", "path": str(SOURCES / "camel_physics.jsonl")},
    ]
    return config_from_dict(
        {
            "name": "selection",
            "run_dir": str(tmp_path / "run"),
            "stages": {
                "sources": {"sources": sources},
                "dedup": {"enabled": False},
                "decontaminate": {"enabled": False},
                "generate": {"progress": False, "teacher": fake(base_url)},
                **stages,
            },
        }
    )


def stage_rows(tmp_path: Path, stage: str) -> list[dict[str, Any]]:
    return load_dataset_at(tmp_path / "run" / stage / "dataset", what="test").to_list()


def marker(tmp_path: Path, stage: str) -> dict[str, Any]:
    return json.loads((tmp_path / "run" / stage / "_done.json").read_text())


def test_mix_keeps_the_top_sources_and_an_equal_share_of_each(tmp_path):
    mix = {
        "enabled": True,
        "sources_per_domain": 2,
        "ranking": {"code": ["codeforces", "code_contests", "taco"]},
        "questions_per_domain": {"code": 3},
    }
    config = selection_config(tmp_path, "http://127.0.0.1:9/v1", mix=mix)
    run_pipeline(config, until="mix", echo=quiet)
    summary = marker(tmp_path, "mix")["summary"]
    # codeforces has one question, so code_contests gives the rest of the 3; one source per domain
    # elsewhere, all of it (no total given: the smallest chosen source's size)
    assert summary["chosen"] == {
        "code": {"codeforces": 1, "code_contests": 2},
        "math": {"numina_math": 6},
        "science": {"camel_physics": 5},
    }
    assert summary["counts"]["code"] == {"code_contests": 2, "codeforces": 1}
    first = sorted(r["id"] for r in stage_rows(tmp_path, "mix"))
    # the same seed picks the same rows from a fresh run
    again = config.model_copy(deep=True)
    again.run_dir = str(tmp_path / "again")
    run_pipeline(again, until="mix", echo=quiet)
    rows = load_dataset_at(tmp_path / "again" / "mix" / "dataset", what="test").to_list()
    assert sorted(r["id"] for r in rows) == first


def test_equal_shares():
    assert equal_shares(3, [1, 3]) == [1, 2]
    assert equal_shares(10, [2, 3, 100]) == [2, 3, 5]
    assert equal_shares(7, [5, 5]) == [4, 3]
    assert equal_shares(None, [4, 7]) == [4, 4]


def test_difficulty_keeps_the_hardest_code_questions_and_scores_strictly(tmp_path, teacher):
    difficulty = {
        "enabled": True,
        "teacher": fake(teacher.base_url),
        "keep": {"top_fraction": 0.5},
        "progress": False,
    }
    config = selection_config(tmp_path, teacher.base_url, difficulty=difficulty)
    report = run_pipeline(config, until="difficulty", echo=quiet)
    assert report["difficulty"]["status"] == "incomplete"  # the "7" string is not a score
    # the code questions only; two texts appear in two sources each, asked once
    assert teacher.stats()["requests"] == 6
    rows = stage_rows(tmp_path, "difficulty")
    code = sorted((r["difficulty"], r["problem"][:20]) for r in rows if r["domain"] == "code")
    # ceil(0.5 * 8) = 4 hardest: 9, 8 and the two 5s
    assert [d for d, _ in code] == [5, 5, 8, 9]
    others = [r for r in rows if r["domain"] != "code"]
    assert len(others) == 11 and all(r["difficulty"] is None for r in others)
    summary = marker(tmp_path, "difficulty")["summary"]
    assert summary["unscored"] == 1 and summary["scored"] == 7 and summary["dropped"] == 3
    assert summary["scores"]["code"]["lowest_kept"] == 5

    # the next run asks again for the unscored question only (the rest come from the cache)
    report = run_pipeline(config, until="difficulty", echo=quiet)
    assert report["difficulty"]["status"] == "incomplete" and teacher.stats()["requests"] == 7

    # a threshold instead: every question rated 8 or more (the stage's settings changed: it runs)
    config.stages.difficulty.keep = KeepRule(threshold=8)
    report = run_pipeline(config, until="difficulty", echo=quiet)
    assert report["difficulty"]["reason"] == "incomplete last time: retrying what failed"
    assert sorted(r["difficulty"] for r in stage_rows(tmp_path, "difficulty") if r["domain"] == "code") == [
        8,
        9,
    ]


def test_response_length_keeps_the_questions_with_the_longest_answers(tmp_path, teacher):
    length = {"enabled": True, "teacher": fake(teacher.base_url), "keep": {"top_n": 2}, "progress": False}
    config = selection_config(tmp_path, teacher.base_url, response_length=length)
    report = run_pipeline(config, until="response_length", echo=quiet)
    assert report["response_length"]["status"] == "ran"
    assert teacher.stats()["requests"] == 11  # math and science questions
    rows = stage_rows(tmp_path, "response_length")
    math = sorted((r["response_length"], r["problem"]) for r in rows if r["domain"] == "math")
    assert [p for _, p in math] == ["Compute $6 \\times 7$.", "Compute $11 + 31$."]
    assert [n for n, _ in math] == [100, 200]  # completion tokens as reported (ceil(chars / 4))
    assert sum(r["domain"] == "science" for r in rows) == 2 and sum(r["domain"] == "code" for r in rows) == 8
    # done: a re-run skips it and sends nothing
    report = run_pipeline(config, until="response_length", echo=quiet)
    assert report["response_length"]["status"] == "skipped" and teacher.stats()["requests"] == 11
    # the filter's teacher is fingerprinted like generation's
    parts = marker(tmp_path, "response_length")["fingerprint_parts"]
    assert "teacher:stages.response_length.teacher" in parts


def test_keep_mask_rules():
    domains = np.array(["code"] * 5 + ["math"] * 2, dtype=object)
    scores = np.array([3, np.nan, 7, 7, 1, np.nan, np.nan])
    scope = domains == "code"

    def mask(rule: KeepRule) -> list[bool]:
        return keep_mask(domains, scores, scope, lambda _: rule).tolist()

    assert mask(KeepRule(top_fraction=0.4)) == [False, False, True, True, False, True, True]  # ceil(2.0)
    assert mask(KeepRule(top_n=3))[:5] == [True, False, True, True, False]
    assert mask(KeepRule(threshold=3))[:5] == [True, False, True, True, False]


def test_keep_rules_per_domain(tmp_path, teacher):
    keep = {"math": {"top_n": 1}, "science": {"threshold": 1}}
    length = {"enabled": True, "teacher": fake(teacher.base_url), "keep": keep, "progress": False}
    config = selection_config(tmp_path, teacher.base_url, response_length=length)
    run_pipeline(config, until="response_length", echo=quiet)
    rows = stage_rows(tmp_path, "response_length")
    assert [r["problem"] for r in rows if r["domain"] == "math"] == ["Compute $11 + 31$."]
    assert sum(r["domain"] == "science" for r in rows) == 5
    with pytest.raises(ConfigError, match="one rule per domain"):
        selection_config(
            tmp_path, teacher.base_url, response_length={**length, "keep": {"math": {"top_n": 1}}}
        )


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ({"difficulty": {"enabled": True}}, "needs a `teacher`"),
        ({"difficulty": {"keep": {"top_n": 3, "threshold": 5}}}, "exactly one of"),
        ({"response_length": {"domains": ["cooking"]}}, "unknown domain 'cooking'"),
        ({"mix": {"ranking": {"cooking": ["x"]}}}, "unknown domain 'cooking'"),
        ({"mix": {"sources_per_domain": 0}}, "greater than or equal to 1"),
        ({"mix": {"questions_per_domain": {"code": 0}}}, "at least 1"),
        ({"mix": {"questions_per_domain": -5}}, "at least 1"),
    ],
)
def test_selection_settings_are_checked_when_the_config_loads(tmp_path, stages, message):
    with pytest.raises(ConfigError, match=message):
        selection_config(tmp_path, "http://127.0.0.1:9/v1", **stages)


def test_verdict_as_metadata_keeps_unverified_answers_in_the_set(tmp_path):
    with FakeTeacher(script=SCRIPT) as server:
        config = http_config(tmp_path, server.base_url)
        run_pipeline(config, echo=quiet)
        out = tmp_path / "run" / "output"
        assert len(pq.read_table(out / "metadata")) == 4  # verification filters: 2 wrong answers out
        config.stages.verify.math.as_filter = False
        report = run_pipeline(config, echo=quiet)
        requests = server.stats()["requests"]
    # only the write stage (and the card) ran again: nothing was judged again
    assert report["verify"]["status"] == "skipped" and report["write"]["status"] == "ran"
    assert requests == 6
    metadata = pq.read_table(out / "metadata").to_pylist()
    assert len(metadata) == 6 and sorted(r["verified"] for r in metadata) == [False] * 2 + [True] * 4
    assert {r["verdict"] for r in metadata} == {"correct", "incorrect"}
    assert len(pq.read_table(out / "default")) == 6
    card = (out / "README.md").read_text()
    assert "verified: 4 → in the set: 6 (verdict kept as metadata, not a filter, for: math)" in card


def test_card_states_the_recipe_counts(tmp_path):
    with FakeTeacher(script=SCRIPT + ANSWERS, answer_bytes=40) as server:
        config = http_config(tmp_path, server.base_url)
        config.stages.generate.samples_per_question = 3
        config.stages.response_length.teacher = fake(server.base_url)
        config.stages.response_length.enabled = True
        config.stages.response_length.keep = KeepRule(top_n=4)
        config.stages.response_length.progress = False
        run_pipeline(config, echo=quiet)
    card = (tmp_path / "run" / "output" / "README.md").read_text()
    assert (
        "questions in: 6 → after dedup and decontamination: 6 → length filter: 4 → answers: 12 "
        "(per question: math: 3) → verified:" in card
    )
    assert "length_kept" in card  # the filter's column in the counts table


def test_a_run_directory_from_before_the_selection_stages_pays_nothing_again(tmp_path):
    """A run directory without the new stages' markers (made before they existed) re-runs from the
    first of them on: generation comes back from the cache and verification from its journal."""
    with FakeTeacher(script=SCRIPT) as server:
        config = http_config(tmp_path, server.base_url)
        run_pipeline(config, echo=quiet)
        for stage in ("mix", "difficulty", "response_length"):
            shutil.rmtree(tmp_path / "run" / stage)
        report = run_pipeline(config, echo=quiet)
        assert server.stats()["requests"] == 6
    assert report["mix"]["reason"] == "not run before" and report["generate"]["status"] == "ran"
    verify = marker(tmp_path, "verify")["summary"]
    assert verify["resumed_judgements"] == 6


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('{"reasoning": "r", "difficulty": 7}', 7),
        ('{"reasoning": "r", "difficulty": 10}', 10),
        ('{"reasoning": "r", "difficulty": "7"}', None),
        ('{"reasoning": "r", "difficulty": 7.5}', None),
        ('{"reasoning": "r", "difficulty": 7.0}', None),
        ('{"reasoning": "r", "difficulty": 0}', None),
        ('{"reasoning": "r", "difficulty": 11}', None),
        ('{"reasoning": "r", "difficulty": true}', None),
        ('{"reasoning": "r"}', None),
    ],
)
def test_a_difficulty_is_an_integer_from_1_to_10_and_nothing_else(reply, score):
    if score is None:
        with pytest.raises(ValidationError):
            DifficultyRating.model_validate_json(reply)
    else:
        assert DifficultyRating.model_validate_json(reply).difficulty == score
