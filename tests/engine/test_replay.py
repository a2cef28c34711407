"""The replay backend: recorded answers from JSONL or Parquet, matched by prompt or by a row field."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from thoughtmill.curation.engine import LLM, TeacherConfig
from thoughtmill.curation.errors import ConfigError

RECORDS = [
    {"problem": "What is 2+2?", "deepseek_reasoning": "2 and 2 make 4", "deepseek_solution": "\\boxed{4}"},
    {"problem": "What is 3*3?", "deepseek_reasoning": "three threes", "deepseek_solution": "\\boxed{9}"},
]


class MathPrompt(LLM):
    def prompt(self, row):
        return f"Return your final response within \\boxed{{}}. {row['problem']}"

    def replay_key(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {**row, "solution": response.content, "reasoning": response.reasoning_content}


def replay_teacher(path, **kw) -> TeacherConfig:
    spec = {
        "path": str(path),
        "key_column": "problem",
        "content_column": "deepseek_solution",
        "reasoning_column": "deepseek_reasoning",
        **kw,
    }
    return TeacherConfig.from_dict({"provider": "replay", "model": "recorded-r1", "replay": spec})


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_replays_recorded_traces_by_row_key(tmp_path, fmt):
    path = tmp_path / f"traces.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    else:
        pq.write_table(pa.Table.from_pylist(RECORDS), path)
    rows = [{"problem": "What is 3*3?"}, {"problem": "What is 2+2?"}, {"problem": "unrecorded"}]
    llm = MathPrompt(replay_teacher(path), working_dir=tmp_path / "w", progress=False)
    out = llm(rows)
    assert out.to_list() == [
        {"problem": "What is 3*3?", "solution": "\\boxed{9}", "reasoning": "three threes"},
        {"problem": "What is 2+2?", "solution": "\\boxed{4}", "reasoning": "2 and 2 make 4"},
    ]
    failure = json.loads(llm.last_run.paths.failures.read_text())
    assert failure["row"] == 2 and "no recorded response" in failure["error"]


def test_matches_last_user_message_without_a_row_key(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"prompt": "hello", "content": "hi"}) + "\n")

    class Plain(LLM):
        def prompt(self, row):
            return row["text"]

    teacher = TeacherConfig.from_dict({"provider": "replay", "model": "r", "replay": {"path": str(path)}})
    out = Plain(teacher, working_dir=tmp_path / "w", progress=False)([{"text": "hello"}])
    assert out["response"] == ["hi"]


def test_wrong_column_is_a_config_error(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"prompt": "x", "content": "y"}) + "\n")
    teacher = TeacherConfig.from_dict(
        {"provider": "replay", "model": "r", "replay": {"path": str(path), "content_column": "answer"}}
    )
    with pytest.raises(ConfigError, match="column 'answer' not found"):
        MathPrompt(teacher, working_dir=tmp_path / "w", progress=False)([{"problem": "x"}])


class Seeded(LLM):
    def prompt(self, row):
        return f"Solve this carefully: {row['text']}"

    def generation_params(self, row):
        return {"seed": row["seed"]}

    def parse(self, row, response):
        return {**row, "answer": response.content, "finish": response.finish_reason}


def test_substring_match_with_seeds_picks_the_first_fitting_row(tmp_path):
    path = tmp_path / "script.jsonl"
    script = [
        {"match": "divisors of 720", "seed": 0, "content": "30"},
        {"match": "divisors of 720", "seed": 1, "content": "30.0", "finish_reason": "length"},
        {"match": "x^2", "content": "any seed"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in script))
    spec = {"path": str(path), "key_column": "match", "match": "substring", "seed_column": "seed"}
    spec["finish_reason_column"] = "finish_reason"
    teacher = TeacherConfig.from_dict({"provider": "replay", "model": "r", "replay": spec})
    rows = [
        {"text": "count the divisors of 720", "seed": 1},
        {"text": "count the divisors of 720", "seed": 0},
        {"text": "solve x^2 = 4", "seed": 7},
        {"text": "count the divisors of 720", "seed": 2},
    ]
    llm = Seeded(teacher, working_dir=tmp_path / "w", progress=False)
    out = llm(rows).to_list()
    assert [(r["answer"], r["finish"]) for r in out] == [
        ("30.0", "length"),
        ("30", "stop"),
        ("any seed", "stop"),
    ]
    failure = json.loads(llm.last_run.paths.failures.read_text())
    assert failure["row"] == 3 and "no recorded response" in failure["error"]
    # the matching rules are part of the endpoint: answers matched another way are not reused
    exact = TeacherConfig.from_dict(
        {"provider": "replay", "model": "r", "replay": {**spec, "match": "exact"}}
    )
    assert exact.endpoint_identity() != teacher.endpoint_identity()


def test_a_named_seed_column_must_exist(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"prompt": "x", "content": "y"}) + "\n")
    spec = {"path": str(path), "seed_column": "seed"}
    teacher = TeacherConfig.from_dict({"provider": "replay", "model": "r", "replay": spec})
    with pytest.raises(ConfigError, match="column 'seed' not found"):
        MathPrompt(teacher, working_dir=tmp_path / "w", progress=False)([{"problem": "x"}])
