"""End to end over real HTTP: AIME24 and MATH500 against the fake OpenAI-compatible teacher, through
the engine backend, with scripted answers per seed; exact accuracies, the results file, and re-scoring
from the saved outputs giving identical numbers."""

from __future__ import annotations

import json
import math
import urllib.request
from pathlib import Path

import pytest

fake_teacher = pytest.importorskip("tests.support.fake_teacher")


@pytest.fixture
def server(data_dir: Path):
    script = fake_teacher.load_script(data_dir / "fake_teacher_script.jsonl")
    teacher = fake_teacher.FakeTeacher({"script": script, "record_bodies": True})
    base_url = teacher.start_in_thread(host="127.0.0.1", port=0)
    yield teacher, base_url
    teacher.stop()


def test_two_benchmarks_against_fake_server(tmp_path: Path, data_dir: Path, server) -> None:
    from thoughtmill.curation import TeacherConfig
    from thoughtmill.eval.backends.teacher import TeacherModel
    from thoughtmill.eval.runner import evaluate, rescore

    teacher, base_url = server
    config = TeacherConfig(provider="openai", model="fake-reasoner", base_urls=[base_url], max_concurrency=4)
    model = TeacherModel(config, working_dir=tmp_path / "engine", progress=False)
    results, path = evaluate(
        model,
        ["AIME24", "MATH500"],
        output=tmp_path / "results",
        per_task_options={"AIME24": {"repeats": 2}},
        data_paths={"AIME24": str(data_dir / "aime24.jsonl"), "MATH500": str(data_dir / "math500.jsonl")},
    )
    saved = json.loads(path.read_text())
    assert saved["results"] == json.loads(json.dumps(results["results"]))
    assert path.parent.name == "fake-reasoner"
    aime, math500 = saved["results"]["AIME24"], saved["results"]["MATH500"]
    assert [r["num_solved"] for r in aime["run_stats"]] == [2, 1]
    assert aime["accuracy_avg"] == 0.5
    assert math.isclose(aime["accuracy_std_err"], (1 / 6) / math.sqrt(2))
    assert aime["num_total"] == 3 and aime["num_repeat"] == 2
    assert aime["examples"][2]["model_outputs"] == ["no idea", "a can be 1 through 11: \\boxed{11}"]
    assert aime["examples"][2]["model_answers"] == ["", "11"]
    assert [r["num_solved"] for r in aime["math_verify"]["run_stats"]] == [2, 2]
    assert (math500["num_solved"], math500["accuracy"]) == (3, 0.75)
    assert math500["examples"][3]["model_answer"] == "60 \\text{ mph}"

    # the wire requests carried the sampling and per-repeat seed
    with urllib.request.urlopen(teacher.url + "/_stats", timeout=10) as reply:
        sent = _bodies(json.loads(reply.read()))
    assert sent, "the fake teacher recorded no request bodies"
    assert {(b.get("temperature"), b.get("max_tokens")) for b in sent} == {(0.7, 32768)}
    assert sorted({b.get("seed") for b in sent}) == [0, 1]

    # re-scoring the saved outputs without the model: identical numbers
    teacher.stop()
    again, _ = rescore(tmp_path / "results" / "fake-reasoner")
    assert again["results"] == saved["results"]


def _bodies(stats: dict) -> list:
    """Request bodies from the fake teacher's stats (``record_bodies``), wherever it keeps them."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "messages" in node and "model" in node:
                found.append(node)
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(stats)
    return found
