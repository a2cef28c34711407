"""Math, science and puzzle sources on fixture files in their real layouts."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from thoughtmill.curation.sources import load_source


def test_numina_keeps_published_subsets_with_a_boxed_answer(data: Path) -> None:
    ds, stats = load_source("numina_math", data / "numina_math.jsonl")
    assert stats.dropped == {
        "figure": 2,
        "image": 1,
        "other_subset": 1,
        "answer_in_problem": 1,
        "multi_part": 1,
        "empty_boxed": 1,
        "no_boxed": 1,
        "no_solution": 1,
    }
    assert stats.kept == 3
    assert set(ds["domain"]) == {"math"} and set(ds["source"]) == {"numina_math"}
    assert all("\\boxed{" in s for s in ds["ground_truth_solution"])
    assert ds["test_cases"] == ["", "", ""]


def test_numina_subsets_are_configurable(data: Path) -> None:
    _, stats = load_source("numina_math", data / "numina_math.jsonl", subsets=["cn_k12"])
    assert stats.kept == 1 and stats.dropped["other_subset"] == 11


def test_camel_samples_a_fixed_number_per_sub_topic_with_a_seed(data: Path) -> None:
    ds, stats = load_source("camel_physics", data / "camel_physics.jsonl", per_subtopic=2, seed=7)
    assert stats.dropped == {"empty_problem": 1, "no_answer": 1, "not_sampled": 1}
    assert len(ds) == 5  # 2 of 3 Schrödinger, 2 of 2 Snell, 1 of 1 Carnot
    again, _ = load_source("camel_physics", data / "camel_physics.jsonl", per_subtopic=2, seed=7)
    assert ds["id"] == again["id"]
    schrodinger = [p for p in ds["problem"] if "particle" in p]
    assert len(schrodinger) == 2
    assert set(ds["domain"]) == {"science"} and set(ds["source"]) == {"camel_physics"}
    seeds = {
        tuple(load_source("camel_physics", data / "camel_physics.jsonl", per_subtopic=1, seed=s)[0]["id"])
        for s in range(8)
    }
    assert len(seeds) > 1  # the seed really drives the draw


def test_camel_reads_the_hub_zip_layout(data: Path, tmp_path: Path) -> None:
    archive = tmp_path / "biology.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, line in enumerate((data / "camel_physics.jsonl").read_text().splitlines()):
            z.writestr(f"{i + 1}_{i}.json", json.dumps(json.loads(line)))
    ds, stats = load_source("camel_biology", archive, per_subtopic=None)
    assert stats.read == 8 and stats.kept == 6
    assert set(ds["source"]) == {"camel_biology"}


def test_riddle_sense_letters_choices_and_keeps_the_key(data: Path) -> None:
    ds, stats = load_source("riddle_sense", data / "riddle_sense.jsonl", sample=None)
    assert stats.dropped == {"no_answer_key": 1, "bad_answer_key": 1, "no_choices": 1}
    first = ds[0]
    assert first["problem"] == (
        "What has keys but can't open locks?\nA: door\nB: map\nC: piano\nD: car\nE: box"
    )
    assert first["ground_truth_solution"] == "C"
    assert set(ds["domain"]) == {"puzzle"}


def test_riddle_sense_seeded_sample(data: Path) -> None:
    a, stats = load_source("riddle_sense", data / "riddle_sense.jsonl", sample=2, seed=1)
    b, _ = load_source("riddle_sense", data / "riddle_sense.jsonl", sample=2, seed=1)
    assert len(a) == 2 and a["id"] == b["id"] and stats.dropped["not_sampled"] == 3
