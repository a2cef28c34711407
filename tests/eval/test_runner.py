"""Generation and scoring apart: saved outputs, resume, shards, re-scoring, results layout, CLI.

The model is the replay backend reading the same scripted answers the fake teacher serves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from thoughtmill.eval.backends import make_model
from thoughtmill.eval.cli import app
from thoughtmill.eval.errors import OutputsError
from thoughtmill.eval.runner import evaluate, rescore
from typer.testing import CliRunner

AIME_STDERR = (1 / 6) / math.sqrt(2)


def replay_model(script: Path, name: str, work: Path):
    """Recorded answers from a fake-teacher script, through the engine's replay provider."""
    return make_model("replay", str(script), name=name, working_dir=work / "engine", progress=False)


def _run(data_dir: Path, out: Path, script: Path | None = None, **kw):
    model = replay_model(script or data_dir / "fake_teacher_script.jsonl", "org/replayed-model", out)
    return evaluate(
        model,
        ["AIME24", "MATH500"],
        output=out,
        data_paths={"AIME24": str(data_dir / "aime24.jsonl"), "MATH500": str(data_dir / "math500.jsonl")},
        per_task_options={"AIME24": {"repeats": 2}},
        **kw,
    )


def check_expected_numbers(results: dict) -> None:
    aime, math500 = results["results"]["AIME24"], results["results"]["MATH500"]
    assert [r["num_solved"] for r in aime["run_stats"]] == [2, 1]
    assert aime["accuracy_avg"] == 0.5 and math.isclose(aime["accuracy_std_err"], AIME_STDERR)
    assert aime["examples"][0]["model_answers"] == ["30", "30.0"]
    assert [r["num_solved"] for r in aime["math_verify"]["run_stats"]] == [2, 2]
    assert (math500["num_solved"], math500["num_total"], math500["accuracy"]) == (3, 4, 0.75)


def test_generate_score_and_rescore_identical(tmp_path: Path, data_dir: Path) -> None:
    results, path = _run(data_dir, tmp_path)
    assert path.parent == tmp_path / "org__replayed-model" and path.name.startswith("results_")
    on_disk = json.loads(path.read_text())
    check_expected_numbers(on_disk)
    assert json.loads(json.dumps(results["results"])) == on_disk["results"]
    assert {"results", "config", "date", "git_hash", "versions", "model_name"} <= set(on_disk)
    assert on_disk["config"]["task_settings"]["AIME24"]["seeds"] == [0, 1]
    lines = (tmp_path / "org__replayed-model/generations/AIME24/generations.jsonl").read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["sampling"]["temperature"] == 0.7

    again, again_path = rescore(tmp_path / "org__replayed-model")
    assert again_path != path
    for task in ("AIME24", "MATH500"):
        assert again["results"][task] == on_disk["results"][task]


def test_interrupted_run_resumes_and_sharding(tmp_path: Path, data_dir: Path) -> None:
    partial = tmp_path / "partial.jsonl"
    rows = (data_dir / "fake_teacher_script.jsonl").read_text().splitlines()
    partial.write_text("\n".join(r for r in rows if "0.\\\\overline" not in r) + "\n")
    with pytest.raises(OutputsError, match=r"MATH500: 1 of 4 generations are missing"):
        _run(data_dir, tmp_path / "out", script=partial)
    # second run with the full script generates only what is missing
    model = replay_model(data_dir / "fake_teacher_script.jsonl", "org/replayed-model", tmp_path)
    seen = []
    original = model.generate
    model.generate = lambda reqs: (seen.extend(r.key for r in reqs), original(reqs))[1]
    results, _ = evaluate(
        model,
        ["AIME24", "MATH500"],
        output=tmp_path / "out",
        per_task_options={"AIME24": {"repeats": 2}},
        data_paths={"AIME24": str(data_dir / "aime24.jsonl"), "MATH500": str(data_dir / "math500.jsonl")},
    )
    assert seen == ["MATH500/0/0"]
    check_expected_numbers(results)
    # shards write their own files and are scored together
    for index in (0, 1):
        assert evaluate(
            replay_model(data_dir / "fake_teacher_script.jsonl", "m", tmp_path),
            ["MATH500"],
            output=tmp_path / "sharded",
            data_paths={"MATH500": str(data_dir / "math500.jsonl")},
            shard=(index, 2),
        ) == (None, None)
    names = sorted(p.name for p in (tmp_path / "sharded/m/generations/MATH500").glob("generations*"))
    assert names == ["generations-shard0of2.jsonl", "generations-shard1of2.jsonl"]
    res, _ = rescore(tmp_path / "sharded/m")
    assert res["results"]["MATH500"]["accuracy"] == 0.75


def test_changed_prompt_is_not_scored_with_stale_answers(tmp_path: Path, data_dir: Path) -> None:
    model = replay_model(data_dir / "fake_teacher_script.jsonl", "m", tmp_path)
    evaluate(model, ["MATH500"], output=tmp_path, data_paths={"MATH500": str(data_dir / "math500.jsonl")})
    calls = []
    original = model.generate
    model.generate = lambda reqs: (calls.extend(reqs), original(reqs))[1]
    evaluate(
        model,
        ["MATH500"],
        output=tmp_path,
        data_paths={"MATH500": str(data_dir / "math500.jsonl")},
        task_options={"system_instruction": "Be brief."},
    )
    assert len(calls) == 4  # new messages -> new request hashes -> regenerated


def test_cli_run_and_rescore(tmp_path: Path, data_dir: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "res"
    result = runner.invoke(
        app,
        [
            "--model",
            str(data_dir / "fake_teacher_script.jsonl"),
            "--backend",
            "replay",
            "--model-name",
            "cli-model",
            "--tasks",
            "aime24,math500",
            "--repeats",
            "2",
            "--output",
            str(out),
            "--data",
            f"AIME24={data_dir / 'aime24.jsonl'}",
            "--data",
            f"MATH500={data_dir / 'math500.jsonl'}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "AIME24" in result.output and "50.00" in result.output
    first = json.loads(next((out / "cli-model").glob("results_*.json")).read_text())
    # MATH500 with --repeats 2 uses the repeated layout; its scripted answers ignore the seed
    assert first["results"]["MATH500"]["accuracy"] == 0.75 and first["results"]["MATH500"]["num_repeat"] == 2
    check_expected_numbers(
        {
            "results": {
                "AIME24": first["results"]["AIME24"],
                "MATH500": {**first["results"]["MATH500"], "num_solved": 3},
            }
        }
    )
    result = runner.invoke(app, ["rescore", str(out / "cli-model")])
    assert result.exit_code == 0, result.output
    files = sorted((out / "cli-model").glob("results_*.json"))
    assert len(files) == 2
    second = json.loads(files[-1].read_text())
    assert second["results"] == first["results"]


def test_cli_rejects_unknown_task(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--model", "x", "--backend", "replay", "--tasks", "AIME23"])
    assert result.exit_code != 0 and "known tasks" in result.output


def test_cli_flag_the_provider_does_not_take_is_named(tmp_path: Path, data_dir: Path) -> None:
    script = str(data_dir / "fake_teacher_script.jsonl")
    args = ["--model", script, "--backend", "replay", "--tasks", "MATH500", "--output", str(tmp_path)]

    def error(*extra: str) -> str:
        result = CliRunner().invoke(app, [*args, *extra], env={"COLUMNS": "1000"})
        assert result.exit_code != 0
        return result.output

    assert "vllm: unknown key" in error("--tp", "2")
    assert "replay.match" in error("--set", "replay.match=fuzzy")
    unknown = error("--backend", "nope")
    assert "unknown backend 'nope'" in unknown and "transformers" in unknown and "vllm" in unknown
