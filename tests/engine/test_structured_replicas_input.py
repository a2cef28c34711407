"""Structured output, replicas with failover, and bad input with nothing paid for lost."""

from __future__ import annotations

import json

import datasets
import pytest
from pydantic import BaseModel
from thoughtmill.curation.engine import LLM
from thoughtmill.curation.errors import InputError

from tests.support.fake_teacher import FakeTeacher

from .conftest import API_KEY, teacher_for


class Verdict(BaseModel):
    correct: bool
    reasoning: str
    confidence: float


class Judge(LLM):
    response_format = Verdict

    def prompt(self, row):
        return f"Is {row['answer']} right for {row['problem']}?"

    def parse(self, row, response):
        return {"id": row["id"], **response.parsed.model_dump()}


def judge_rows(n: int) -> list[dict]:
    return [{"id": i, "problem": f"p{i}", "answer": str(i)} for i in range(n)]


def test_structured_output_sends_the_schema_and_validates(server, api_key, tmp_path):
    server.configure(record_bodies=True)
    out = Judge(teacher_for(server), working_dir=tmp_path, progress=False)(judge_rows(5))
    assert out.column_names == ["id", "correct", "reasoning", "confidence"]
    body = server.stats()["bodies"][0]["body"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"].keys() == {
        "correct",
        "reasoning",
        "confidence",
    }


def test_json_object_mode_puts_the_schema_in_the_prompt(server, api_key, tmp_path):
    server.configure(record_bodies=True)
    Judge(teacher_for(server, structured_output="json_object"), working_dir=tmp_path, progress=False)(
        judge_rows(1)
    )
    body = server.stats()["bodies"][0]["body"]
    assert body["response_format"] == {"type": "json_object"}
    assert '"correct"' in body["messages"][-1]["content"]


def test_invalid_structured_replies_are_retried_then_recorded(server, api_key, tmp_path):
    data = judge_rows(4)
    data[1]["answer"] += " [[fault:badjson:1]]"  # invalid once, then valid
    data[2]["answer"] += " [[fault:badjson:*]]"  # never valid
    llm = Judge(
        teacher_for(server, retry={"max_invalid_structured": 2}), working_dir=tmp_path, progress=False
    )
    out = llm(data)
    assert out["id"] == [0, 1, 3]
    failures = [json.loads(x) for x in llm.last_run.paths.failures.read_text().splitlines()]
    assert [(f["row"], f["reason"]) for f in failures] == [(2, "invalid_structured_output")]
    assert failures[0]["raw"]  # the paid-for reply is kept
    rejected = llm.last_run.paths.rejected.read_text().splitlines()
    assert len(rejected) == 1 + 3  # row 1 once, row 2 on every attempt
    # invalid replies were never cached: a re-run asks again for row 2 only
    before = server.stats(brief=True)["requests"]
    Judge(teacher_for(server), working_dir=tmp_path, progress=False)(data)
    assert server.stats(brief=True)["requests"] - before == 3


def test_replicas_spread_and_fail_over_when_one_dies(api_key, tmp_path):
    a = FakeTeacher(answer_bytes=64, api_key=API_KEY)
    b = FakeTeacher(answer_bytes=64, api_key=API_KEY)
    a.start_in_thread()
    b.start_in_thread()
    try:
        teacher = teacher_for(a, b)
        from .test_engine_http import Solve, rows

        Solve(teacher, working_dir=tmp_path / "1", progress=False)(rows(40))
        assert a.stats(brief=True)["requests"] > 0 and b.stats(brief=True)["requests"] > 0
        b.stop()  # a dead replica: connection refused
        out = Solve(teacher, working_dir=tmp_path / "2", progress=False)(rows(40, tag="x"))
        assert len(out) == 40
    finally:
        a.stop()


class NeedsQuestion(LLM):
    def prompt(self, row):
        return row["question"]


def test_missing_column_names_the_row_and_keeps_the_cache(server, api_key, tmp_path):
    data = [{"question": f"q{i}"} for i in range(30)] + [{"query": "oops"}]
    with pytest.raises(InputError, match=r"row 30: .*needs column 'question'.*columns: query"):
        NeedsQuestion(teacher_for(server), working_dir=tmp_path, progress=False)(data)
    paid = server.stats(brief=True)["requests"]
    assert paid == 30
    NeedsQuestion(teacher_for(server), working_dir=tmp_path, progress=False)(data[:30])
    assert server.stats(brief=True)["requests"] == paid  # nothing paid for was lost


def test_empty_input_is_a_clear_error(server, api_key, tmp_path):
    with pytest.raises(InputError, match="no rows"):
        NeedsQuestion(teacher_for(server), working_dir=tmp_path, progress=False)([])
    with pytest.raises(InputError, match="no rows"):
        NeedsQuestion(teacher_for(server), working_dir=tmp_path, progress=False)(iter([]))


def test_non_serialisable_value_names_row_and_field(server, api_key, tmp_path):
    class Bad(NeedsQuestion):
        def parse(self, row, response):
            return {"q": row["question"], "blob": object() if row["question"] == "q7" else "fine"}

    data = [{"question": f"q{i}"} for i in range(10)]
    with pytest.raises(InputError, match=r"row 7: parse\(\) returned field 'blob' of type object"):
        Bad(teacher_for(server), working_dir=tmp_path, progress=False)(data)
    NeedsQuestion(teacher_for(server), working_dir=tmp_path, progress=False)(data)
    assert server.stats(brief=True)["requests"] == 10


def test_prompt_must_return_text_or_messages(server, api_key, tmp_path):
    class Wrong(LLM):
        def prompt(self, row):
            return 42

    with pytest.raises(InputError, match="row 0: prompt"):
        Wrong(teacher_for(server), working_dir=tmp_path, progress=False)([{"a": 1}])


def test_a_bug_in_parse_fails_its_row_and_keeps_the_answer(server, api_key, tmp_path):
    class Buggy(NeedsQuestion):
        def parse(self, row, response):
            if row["question"] == "q3":
                raise ValueError("cannot read this one")
            return {"q": row["question"]}

    data = [{"question": f"q{i}"} for i in range(6)]
    llm = Buggy(teacher_for(server), working_dir=tmp_path, progress=False)
    assert len(llm(data)) == 5
    failure = json.loads(llm.last_run.paths.failures.read_text())
    assert failure["row"] == 3 and "cannot read this one" in failure["error"]
    assert len(NeedsQuestion(teacher_for(server), working_dir=tmp_path, progress=False)(data)) == 6
    assert server.stats(brief=True)["requests"] == 6


def test_accepts_datasets_iterables_and_multi_row_parse(server, api_key, tmp_path):
    class Twice(NeedsQuestion):
        def parse(self, row, response):
            return [{"q": row["question"], "k": k} for k in range(2)]

    ds = datasets.Dataset.from_dict({"question": [f"q{i}" for i in range(700)]})
    out = Twice(teacher_for(server), working_dir=tmp_path, progress=False)(ds)
    assert len(out) == 1400 and out["q"][:4] == ["q0", "q0", "q1", "q1"] and out["k"][:2] == [0, 1]
    gen = ({"question": f"q{i}"} for i in range(700))
    out2 = Twice(teacher_for(server), working_dir=tmp_path, progress=False)(gen)
    assert out2.to_list() == out.to_list()
