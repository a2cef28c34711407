"""Local loaders in Evalchemy's layouts, and LiveCodeBench's test-case encoding."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from thoughtmill.eval.benchmarks import make_benchmark
from thoughtmill.eval.data.files import read_records
from thoughtmill.eval.data.lcb import decode_tests, encode_tests, normalise_lcb_row
from thoughtmill.eval.errors import DataError

from tests.sources.offline_hub import go_offline


def test_json_file_holding_json_lines(data_dir: Path) -> None:
    rows = read_records(data_dir / "amc23.json")  # Evalchemy's .json files are JSON Lines
    assert [r["answer"] for r in rows] == [12, "\\frac{3}{8}", "2\\sqrt3", 7]


def test_json_array_and_parquet_give_the_same_rows(tmp_path: Path, data_dir: Path) -> None:
    rows = read_records(data_dir / "aime24.jsonl")
    (tmp_path / "a.json").write_text(json.dumps(rows))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "a.parquet")
    assert read_records(tmp_path / "a.json") == rows
    assert read_records(tmp_path / "a.parquet") == rows


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"problem": "x", "answer": "1"}\n{oops\n{"problem": "y", "answer": "2"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl: line 2"):
        read_records(path)


def test_missing_column_names_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "aime.jsonl"
    path.write_text('{"problem": "x", "expected_answer": "1"}\n{"problem": "y"}\n')
    bench = make_benchmark("AIME24", data_path=str(path))
    with pytest.raises(DataError, match=r"row 1: no answer column"):
        bench.load_examples()


def test_math_columns_are_normalised(data_dir: Path) -> None:
    aime = make_benchmark("aime24", data_path=str(data_dir / "aime24.jsonl")).load_examples()
    amc = make_benchmark("AMC23", data_path=str(data_dir / "amc23.json")).load_examples()
    assert aime[1]["answer"] == "729" and aime[1]["id"] == "61"
    assert amc[0]["problem"].startswith("A rectangle") and amc[0]["answer"] == "12"


def test_lcb_private_tests_round_trip() -> None:
    tests = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    assert decode_tests(encode_tests(tests), where="t") == tests
    assert decode_tests(json.dumps(tests), where="t") == tests


def test_lcb_pickle_with_globals_is_refused() -> None:
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    payload = base64.b64encode(zlib.compress(pickle.dumps(Boom()))).decode()
    with pytest.raises(DataError, match="refusing to load"):
        decode_tests(payload, where="row 3 private_test_cases")


def test_lcb_rows_normalised(data_dir: Path) -> None:
    rows = read_records(data_dir / "lcb_release_v2.jsonl")
    stdin, call = (normalise_lcb_row(r, where=f"row {i}") for i, r in enumerate(rows))
    assert stdin["is_stdin"] and stdin["fn_name"] is None and len(stdin["tests"]) == 2
    assert not call["is_stdin"] and call["fn_name"] == "largest" and call["difficulty"] == "medium"
    processed = {
        "prompt": "p",
        "test": call["tests"],
        "entry_point": rows[1]["starter_code"],
        "task_id": "x",
        "is_stdin": False,
        "public_test_cases": "[]",
        "difficulty": "medium",
    }
    assert normalise_lcb_row(processed, where="p")["fn_name"] == "largest"


def test_not_an_lcb_row() -> None:
    with pytest.raises(DataError, match="row 7: not a LiveCodeBench row"):
        normalise_lcb_row({"foo": 1}, where="row 7")


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    go_offline(monkeypatch, tmp_path)


@pytest.mark.parametrize("task", ["MATH500", "LiveCodeBench"])
def test_unreachable_hub_is_a_data_error_that_says_what_to_do(task: str, offline_hub: None) -> None:
    bench = make_benchmark(task, repeats=1)
    with pytest.raises(DataError) as error:
        bench.load_examples()
    message = str(error.value)
    assert message.startswith(f"{task}: cannot read ") and bench.hub_location.short() in message
    assert f"--data {task}=PATH" in message and "HF_HUB_OFFLINE" in message
    assert error.value.__cause__ is not None


def test_the_evaluator_reads_the_registry_location_decontamination_reads() -> None:
    from thoughtmill.benchmarks import BENCHMARKS

    for name, info in BENCHMARKS.items():
        assert make_benchmark(name).hub_location == info.hub
    lcb = make_benchmark("LiveCodeBench", release="release_v3").hub_location
    assert lcb.data_files == ("test.jsonl", "test2.jsonl", "test3.jsonl")
    assert lcb.urls()[0] == "hf://datasets/livecodebench/code_generation_lite/test.jsonl"
    with pytest.raises(ValueError, match="unknown release 'release_v9'"):
        make_benchmark("LiveCodeBench", release="release_v9")
