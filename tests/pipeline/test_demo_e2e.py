"""The embedded demo end to end: real files, replay teacher, real sandbox, real Parquet output."""

from __future__ import annotations

import json

import datasets
import pyarrow.parquet as pq
import pytest
from thoughtmill.curation.cli import main
from thoughtmill.curation.pipeline.config import STAGE_ORDER
from thoughtmill.curation.pipeline.runner import run_pipeline, run_status

from tests.pipeline.conftest import demo_config, quiet

pytestmark = pytest.mark.slow


def test_demo_filters_wrong_answers_and_writes_both_sets(tmp_path):
    config = demo_config(tmp_path)
    report = run_pipeline(config, echo=quiet)
    assert all(r["status"] == "ran" for r in report.values())
    out = tmp_path / "run" / "output"
    rows = datasets.load_from_disk(str(out / "disk" / "unverified")).to_list()
    assert len(rows) == 36
    by_verdict = {}
    for r in rows:
        by_verdict.setdefault((r["domain"], r["verdict"]), 0)
        by_verdict[(r["domain"], r["verdict"])] += 1
    assert by_verdict == {
        ("code", "accepted"): 5, ("code", "wrong_answer"): 1, ("code", "runtime_error"): 1,
        ("code", "no_code_block"): 1, ("math", "correct"): 11, ("math", "incorrect"): 3,
        ("puzzle", "correct"): 6, ("puzzle", "incorrect"): 1, ("puzzle", "no_answer"): 1,
        ("science", "pass_through"): 6,
    }  # fmt: skip
    no_code = next(r for r in rows if r["verdict"] == "no_code_block")
    assert no_code["id"] in json.loads(no_code["verification_detail"])["error"]
    metadata = pq.read_table(out / "metadata").to_pylist()
    assert len(metadata) == 28 and all(r["verified"] for r in metadata)
    assert {"problem", "ground_truth_solution", "test_cases", "starter_code", "deepseek_reasoning",
            "deepseek_solution", "domain", "source"} <= set(metadata[0])  # fmt: skip
    default = pq.read_table(out / "default").to_pylist()
    assert len(default) == 28
    assistant = default[0]["conversations"][1]["value"]
    assert assistant.startswith("<|begin_of_thought|>") and assistant.endswith("<|end_of_solution|>")
    card = (out / "README.md").read_text()
    assert (
        "| **(all)** | **(all)** | **38** | **37** | **36** | **36** | **0** | **28** | **77.8%** |" in card
    )
    assert [r["state"] for r in run_status(tmp_path / "run")] == ["done"] * len(STAGE_ORDER)


def test_demo_command_prints_counts_and_paths(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["demo", "--run-dir", str(tmp_path / "demo")])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "verified set:" in text and str(tmp_path / "demo") in text
    assert "math" in text and "78.6%" in text  # as on the card (one decimal)
    # a second run skips every stage
    with pytest.raises(SystemExit):
        main(["demo", "--run-dir", str(tmp_path / "demo")])
    assert text.count("running") >= len(STAGE_ORDER)
    assert capsys.readouterr().out.count("done earlier, skipped") == len(STAGE_ORDER)
