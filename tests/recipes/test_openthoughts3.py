"""The OpenThoughts3 recipes: the miniature one runs end to end offline (replay teachers), the full one
loads with the paper's choices."""

from __future__ import annotations

import pyarrow.parquet as pq
from thoughtmill.curation.pipeline.config import STAGE_ORDER, load_config
from thoughtmill.curation.pipeline.runner import run_pipeline, run_status
from thoughtmill.curation.report.data import gather
from thoughtmill.curation.report.page import render

from tests.recipes.conftest import quiet
from thoughtmill.resources import bundled_config


def test_the_mini_recipe_runs_end_to_end_offline(tmp_path):
    config = load_config(bundled_config("openthoughts3-mini.yaml"), [f"run_dir={tmp_path / 'run'}"])
    report = run_pipeline(config, echo=quiet)
    assert all(report[s]["status"] == "ran" for s in STAGE_ORDER)
    unverified = pq.read_table(tmp_path / "run" / "output" / "unverified").to_pylist()
    per_domain: dict[str, int] = {}
    for row in unverified:
        per_domain[row["domain"]] = per_domain.get(row["domain"], 0) + 1
    # code: 6 mixed (3 per source) -> the 3 hardest x 4 samples; math: 14 -> 7 longest x 2;
    # science: 3 + 3 mixed -> 3 longest x 2
    assert per_domain == {"code": 12, "math": 14, "science": 6}
    code = [r for r in unverified if r["domain"] == "code"]
    assert sorted({r["sample_index"] for r in code}) == [0, 1, 2, 3]
    # the mix drew (seed 0) ratings 2, 2, 3 from taco and 2, 4, 3 from apps: the top half is 4, 3, 3
    ratings = sorted({(r["id"], r["difficulty"]) for r in code}, key=lambda item: item[1])
    assert [rating for _, rating in ratings] == [3, 3, 4]
    # no answer filtering: every answer is in the set, its verdict kept
    metadata = pq.read_table(tmp_path / "run" / "output" / "metadata").to_pylist()
    assert len(metadata) == 32 and {r["verified"] for r in metadata} == {True, False}
    card = (tmp_path / "run" / "output" / "README.md").read_text()
    assert (
        "questions in: 30 → after dedup and decontamination: 28 → mixed: 26 → difficulty filter: 23 → "
        "length filter: 13 → answers: 32 (per question: code: 4, math: 2, science: 2) → verified: 26 → "
        "in the set: 32" in card
    )
    # the run report's funnel and table show the selection stages too
    data = gather(tmp_path / "run")
    assert data.funnel == [
        ("sourced", 30), ("deduplicated", 29), ("decontaminated", 28), ("mixed", 26),
        ("difficulty_kept", 23), ("length_kept", 13), ("generated", 32), ("verified", 26),
    ]  # fmt: skip
    assert "<th>difficulty_kept</th>" in render(data)
    again = run_pipeline(config, echo=quiet)
    assert all(again[s]["status"] == "skipped" for s in STAGE_ORDER)
    assert [r["state"] for r in run_status(tmp_path / "run")] == ["done"] * len(STAGE_ORDER)


def test_the_full_recipe_loads_with_the_papers_choices():
    config = load_config(bundled_config("openthoughts3.yaml"))
    stages = config.stages
    assert stages.generate.samples_for("code") == stages.generate.samples_for("math") == 16
    assert stages.mix.enabled and stages.mix.sources_per_domain == 2
    assert stages.difficulty.enabled and stages.difficulty.domains == ["code"]
    assert stages.response_length.enabled and stages.response_length.domains == ["math", "science"]
    assert stages.verify.metadata_only() == ["code", "math", "science"]
    generation = config.teachers()["stages.generate.teacher"]
    assert generation == "qwq-32b-vllm"
