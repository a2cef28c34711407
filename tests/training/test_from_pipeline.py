"""The hand-off seam: what the pipeline writes is what the LLaMA-Factory export reads."""

from __future__ import annotations

import json

import datasets
import pytest
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.prompts import REASONING_SYSTEM_PROMPT, user_prompt
from thoughtmill.training.export import export

from tests.pipeline.conftest import demo_config, quiet

pytestmark = pytest.mark.slow


def test_the_demo_verified_set_exports_row_for_row(tmp_path):
    run_pipeline(demo_config(tmp_path), echo=quiet)
    every_row = tmp_path / "run" / "output" / "disk" / "unverified"
    verified = [r for r in datasets.load_from_disk(str(every_row)) if r["verified"]]
    summary = export(every_row, tmp_path / "lf")
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())
    [(name, entry)] = info.items()
    records = [
        json.loads(line)
        for shard in sorted((tmp_path / "lf").glob(f"{name}/*.jsonl"))
        for line in shard.read_text().splitlines()
    ]
    assert len(records) == len(verified) == 28
    assert entry["columns"] == {"messages": "conversations", "system": "system"}
    assert all(r["system"] == REASONING_SYSTEM_PROMPT for r in records)
    assert [r["conversations"][0]["value"] for r in records] == [user_prompt(v) for v in verified]
    assert all(
        v["deepseek_solution"].strip() in r["conversations"][1]["value"] for r, v in zip(records, verified)
    )
    assert (summary["rows_in"], summary["rows_unverified_skipped"], summary["rows_written"]) == (36, 8, 28)
