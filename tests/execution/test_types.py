"""Verdict / Limits / test-case parsing: the public value types, without running anything."""

from __future__ import annotations

import json

import pytest
from thoughtmill.execution import ExecutionError, Limits, Status, TestCaseError, Verdict, parse_test_cases


def test_verdict_round_trip():
    v = Verdict(Status.WRONG_ANSWER, 2, 5, 2, stderr="tb", wall_time_s=0.5, detail="test 2: ...")
    d = v.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["status"] == "wrong_answer"
    assert Verdict.from_dict(d) == v
    assert not v.accepted
    assert Verdict(Status.ACCEPTED, 3, 3).accepted
    assert not Verdict(Status.ACCEPTED, 2, 3).accepted  # never a pass without every test passed
    with pytest.raises(ExecutionError):
        Verdict.from_dict({"status": "great"})


def test_status_is_str_enum():
    assert Status("time_limit") is Status.TIME_LIMIT
    assert Status.ACCEPTED == "accepted"
    assert {s.value for s in Status} == {
        "accepted",
        "wrong_answer",
        "time_limit",
        "memory_limit",
        "output_limit",
        "runtime_error",
        "compile_error",
        "sandbox_error",
    }


def test_limits_defaults_and_validation():
    lim = Limits()
    assert lim.time_s == 6.0 and 1024 <= lim.memory_mb <= 2048
    assert Limits.from_dict(lim.to_dict()) == lim
    with pytest.raises(ExecutionError, match="time_s"):
        Limits(time_s=0)
    with pytest.raises(ExecutionError, match="memory_mb"):
        Limits(memory_mb=10)
    with pytest.raises(ExecutionError, match="unknown Limits field"):
        Limits.from_dict({"cpu": 1})


def test_parse_apps_stdin_and_call():
    spec = parse_test_cases('{"inputs": ["1\\n", ["a", "b"]], "outputs": ["1\\n", ["x"]]}')
    assert spec.kind == "stdin" and spec.inputs == ["1\n", "a\nb"] and spec.outputs == ["1\n", "x"]
    spec = parse_test_cases({"fn_name": "f", "inputs": [[1, 2], 3], "outputs": [[3], [3]]})
    assert spec.kind == "call" and spec.inputs == [[1, 2], [3]] and spec.unwrap


def test_parse_livecodebench():
    tests = [{"input": "[1,2]\n3", "output": "[3, 4]", "testtype": "functional"}]
    spec = parse_test_cases({"tests": tests, "metadata": json.dumps({"func_name": "g"})})
    assert spec.kind == "call" and spec.fn_name == "g" and spec.inputs == [[[1, 2], 3]]
    assert spec.outputs == [[3, 4]] and not spec.unwrap
    spec = parse_test_cases([{"input": "x", "output": "y", "testtype": "stdin"}])
    assert spec.kind == "stdin"
    big = "1" + "0" * 5000
    spec = parse_test_cases(
        {"fn_name": "f", "tests": [{"input": big, "output": big, "testtype": "functional"}]}
    )
    assert spec.outputs == [10**5000]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ("not json", "not valid JSON"),
        ({"inputs": ["1"]}, "must both be lists"),
        ({"inputs": ["1"], "outputs": []}, "1 inputs but 0 outputs"),
        ({"inputs": [], "outputs": []}, "no tests"),
        ({"foo": 1}, "expected keys"),
        ({"fn_name": "not an id", "inputs": [[1]], "outputs": [1]}, "identifier"),
        (
            [
                {"input": "1", "output": "1", "testtype": "stdin"},
                {"input": "1", "output": "1", "testtype": "functional"},
            ],
            "mixed",
        ),
        ({"tests": [{"input": "1", "output": "1", "testtype": "functional"}]}, "need 'fn_name'"),
        (42, "expected a dict"),
    ],
)
def test_parse_errors(bad, match):
    with pytest.raises(TestCaseError, match=match):
        parse_test_cases(bad)


def test_infrastructure_failure_round_trip_and_only_on_sandbox_error():
    v = Verdict(Status.SANDBOX_ERROR, detail="judge worker process died", infrastructure_failure=True)
    d = v.to_dict()
    assert d["infrastructure_failure"] is True and Verdict.from_dict(d) == v
    assert not v.accepted
    assert Verdict.from_dict({"status": "accepted"}).infrastructure_failure is False  # older dicts
    with pytest.raises(ExecutionError, match="infrastructure failure"):
        Verdict(Status.WRONG_ANSWER, infrastructure_failure=True)
