"""Code sources on fixture files in their real layouts: every published filter drops and is counted."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.schema import PROBLEM_COLUMNS, problem_id
from thoughtmill.curation.sources import load_source


def rows(ds: datasets.Dataset) -> list[dict]:
    return [ds[i] for i in range(len(ds))]


def test_taco_keeps_stdin_and_call_based_problems_and_counts_each_filter(data: Path) -> None:
    ds, stats = load_source("taco", data / "taco.jsonl")
    assert stats.read == 9
    assert stats.dropped == {
        "short_problem": 1,
        "link": 1,
        "image": 2,  # "[image]" in the statement, and picture_num > 0
        "malformed_tests": 1,
        "no_tests": 1,
        "no_solution": 1,
    }
    assert stats.kept == len(ds) == 2
    assert tuple(ds.column_names) == PROBLEM_COLUMNS
    stdin, call = rows(ds)
    assert json.loads(stdin["test_cases"]) == {
        "inputs": ["3\n1 1 1\n", "2\n1 3\n"],
        "outputs": ["0\n", "1\n"],
    }
    assert stdin["starter_code"] == ""
    assert stdin["ground_truth_solution"].startswith("n=int(input())")
    tests = json.loads(call["test_cases"])
    assert tests["fn_name"] == "twoSum" and tests["inputs"] == [[[2, 7, 11, 15], 9]]
    assert call["starter_code"].startswith("class Solution:")
    assert {r["domain"] for r in rows(ds)} == {"code"} and {r["source"] for r in rows(ds)} == {"taco"}
    assert stdin["id"] == problem_id("taco", stdin["problem"])


def test_apps_counts_missing_and_malformed_fields(data: Path) -> None:
    ds, stats = load_source("apps", data / "apps.jsonl")
    assert stats.dropped == {
        "no_tests": 1,
        "no_solution": 1,
        "malformed_solutions": 1,
        "malformed_tests": 1,
        "link": 1,
        "short_problem": 1,
    }
    assert len(ds) == 2
    assert sum(stats.dropped.values()) + stats.kept == stats.read


def test_code_contests_merges_public_private_generated_tests(data: Path) -> None:
    ds, stats = load_source("code_contests", data / "code_contests.jsonl")
    assert stats.dropped == {
        "no_tests": 1,
        "no_solution": 1,
        "short_problem": 1,
        "image": 1,
        "malformed_tests": 1,
    }
    (boxes,) = [r for r in rows(ds) if "row of n boxes" in r["problem"]]
    assert json.loads(boxes["test_cases"])["inputs"] == ["3\n1 1 1\n", "2\n1 3\n", "1\n5\n"]
    assert boxes["ground_truth_solution"] == "print(0)"  # Python 3 preferred over C++ and Python 2
    assert len(ds) == 3
    langs = {r["ground_truth_solution"].split("\n")[0] for r in rows(ds)}
    assert "print 0" in langs  # Python 2 when no Python 3 exists
    assert any(s.startswith("#include") for s in langs)  # any language when no Python exists


def test_codeforces_keeps_first_accepted_submission_per_problem(data: Path) -> None:
    ds, stats = load_source("codeforces", data / "codeforces.jsonl")
    assert stats.dropped == {
        "not_accepted": 2,
        "no_tests": 1,
        "short_problem": 1,
        "link": 1,
        "no_solution": 1,
        "malformed_tests": 1,
        "duplicate_submission": 1,
    }
    (row,) = rows(ds)
    assert row["ground_truth_solution"].startswith("n=int(input())")  # the first accepted one
    assert "Sample Input\n47\n\nSample Output\nYES\n" in row["problem"]
    assert json.loads(row["test_cases"])["outputs"] == ["YES\n", "YES\n", "NO\n"]


def test_parquet_file_in_the_real_layout_loads_the_same(data: Path, tmp_path: Path) -> None:
    raw = datasets.load_dataset("json", data_files=str(data / "code_contests.jsonl"), split="train")
    raw.to_parquet(tmp_path / "train-00000-of-00001.parquet")
    from_parquet, stats = load_source("code_contests", tmp_path / "train-00000-of-00001.parquet")
    from_dir, _ = load_source("code_contests", tmp_path)
    from_jsonl, _ = load_source("code_contests", data / "code_contests.jsonl")
    assert from_parquet["id"] == from_jsonl["id"] == from_dir["id"]
    assert stats.kept == 3


def test_limit_reads_only_the_first_rows(data: Path) -> None:
    _, stats = load_source("taco", data / "taco.jsonl", limit=3)
    assert stats.read == 3 and stats.kept == 2


def test_missing_column_names_source_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "taco.jsonl"
    path.write_text(json.dumps({"question": "q" * 300, "solutions": "[]", "starter_code": ""}) + "\n")
    with pytest.raises(InputError, match=r"'taco'.*taco\.jsonl.*'input_output'"):
        load_source("taco", path)


def test_null_problem_names_the_row(data: Path, tmp_path: Path) -> None:
    lines = (data / "apps.jsonl").read_text().splitlines()
    broken = json.loads(lines[2])
    broken["question"] = None
    lines[2] = json.dumps(broken)
    path = tmp_path / "apps.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"'apps'.*row 2.*'question'"):
        load_source("apps", path)


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "apps.jsonl"
    path.write_text('{"question": "x", "solutions": \n')
    with pytest.raises(InputError, match="apps"):
        load_source("apps", path)
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    with pytest.raises(InputError, match="expected one of"):
        load_source("apps", notes)


def test_streaming_reads_only_limit_rows_into_arrow(data: Path) -> None:
    # The Hub path, exercised on a local file through the same builder-with-data-files route.
    from thoughtmill.hub import HubLocation, read_hub

    location = HubLocation("local", "train", data_files=(str(data / "taco.jsonl"),))
    raw = read_hub(location, limit=4, streaming=True)
    assert isinstance(raw, datasets.Dataset) and len(raw) == 4
    assert raw[0]["question"].startswith("Vasya")
