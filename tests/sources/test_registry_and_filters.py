"""The registry, the uniform schema every source returns, and the shared filter functions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.judges.registry import DOMAINS
from thoughtmill.curation.schema import PROBLEM_COLUMNS
from thoughtmill.curation.sources import SOURCES, load_source
from thoughtmill.curation.sources.filters import (
    boxed_answers,
    code_problem_reason,
    math_problem_reason,
    parse_tests,
)

FIXTURE = {name: name for name in SOURCES} | {
    "camel_chemistry": "camel_physics",
    "camel_biology": "camel_physics",
}


def test_registry_covers_every_published_source() -> None:
    assert set(SOURCES) == {
        "taco", "apps", "code_contests", "codeforces", "numina_math",
        "camel_physics", "camel_chemistry", "camel_biology", "riddle_sense",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_returns_the_uniform_schema(name: str, data: Path) -> None:
    ds, stats = load_source(name, data / f"{FIXTURE[name]}.jsonl")
    assert tuple(ds.column_names) == PROBLEM_COLUMNS
    assert stats.read == sum(stats.dropped.values()) + stats.kept
    assert stats.dropped, "every fixture exercises at least one filter"
    assert len(set(ds["id"])) == len(ds)
    assert set(ds["domain"]) <= set(DOMAINS) and set(ds["source"]) == {name}
    for tests, domain in zip(ds["test_cases"], ds["domain"], strict=True):
        if domain == "code":
            parsed = json.loads(tests)
            assert len(parsed["inputs"]) == len(parsed["outputs"]) > 0
        else:
            assert tests == ""
    assert stats.to_dict()["source"] == name


def test_unknown_source_or_option_is_a_config_error(data: Path) -> None:
    with pytest.raises(ConfigError, match="unknown source 'tacos'"):
        load_source("tacos")
    with pytest.raises(ConfigError, match="per_subtopik"):
        load_source("camel_physics", data / "camel_physics.jsonl", per_subtopik=3)


def test_boxed_answers_match_nested_braces() -> None:
    assert boxed_answers(r"so $\boxed{\frac{1}{2}}$ and \boxed {7}") == [r"\frac{1}{2}", "7"]
    assert boxed_answers(r"\boxed{} done") == [""]
    assert boxed_answers(r"\boxed{unclosed") == []
    assert math_problem_reason("Find x.", r"\boxed{ }") == "empty_boxed"
    assert math_problem_reason("Find x.", r"\boxed{3}") == ""


def test_parse_tests_shapes() -> None:
    assert parse_tests('{"inputs": ["1"], "outputs": ["2"], "fn_name": "f"}') == (
        {"inputs": ["1"], "outputs": ["2"], "fn_name": "f"},
        "",
    )
    assert parse_tests("") == (None, "no_tests")
    assert parse_tests("{not json") == (None, "malformed_tests")
    assert parse_tests('["a"]') == (None, "malformed_tests")
    assert parse_tests('{"inputs": ["1", "2"], "outputs": ["1"]}') == (None, "malformed_tests")


def test_code_problem_reason() -> None:
    long = "x" * 250
    assert code_problem_reason(long) == ""
    assert code_problem_reason(long[:199]) == "short_problem"
    assert code_problem_reason(long + " see https://a.b") == "link"
    assert code_problem_reason(long + " ![fig](a.png)") == "image"
    assert code_problem_reason(long[:150], min_chars=100) == ""
