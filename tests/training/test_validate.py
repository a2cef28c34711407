"""Validation catches each class of bad config, in plain words; a good config passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from thoughtmill.training import recipes, yamlio
from thoughtmill.training.cli import app
from thoughtmill.training.export import export
from thoughtmill.training.validate import validate
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, verified_dir) -> Path:
    """An exported dataset, a fake local model folder and a good tiny-cpu config."""
    root = tmp_path_factory.mktemp("validate")
    export(verified_dir, root / "data")
    model = root / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    recipe = recipes.build_recipe(
        "tiny-cpu",
        [f"model_name_or_path={model}", f"dataset_dir={root / 'data'}", f"output_dir={root / 'out'}"],
    )
    recipes.emit(recipe, root)
    return root


def variant(workspace: Path, name: str, **changes) -> Path:
    args = yamlio.load_file(workspace / "tiny-cpu.yaml")
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    path = workspace / f"{name}.yaml"
    path.write_text(yamlio.dumps(args))
    return path


def bad_deepspeed(workspace: Path, text: str) -> Path:
    path = workspace / "ds.json"
    path.write_text(text)
    return variant(workspace, "ds", deepspeed=str(path))


# Checks LLaMA-Factory's parser would accept silently: ours, no train environment needed.
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"stage": "sftt"}, "unknown stage 'sftt'"),
        ({"learning_rate": "1e-4"}, "learning_rate must be a number, got '1e-4'"),
        ({"dataset": "nope"}, "dataset 'nope' is not defined in"),
        ({"dataset_dir": "/nonexistent"}, "has no dataset_info.json"),
        ({"model_name_or_path": "/nonexistent/model"}, "does not exist"),
        ({"output_dir": None}, "missing required key 'output_dir'"),
    ],
)
def test_local_checks(workspace, changes, expected):
    report = validate(variant(workspace, "bad", **changes), with_llamafactory=False)
    assert report.error is not None and expected in report.error


def test_deepspeed_json_is_checked(workspace):
    assert "is not valid JSON" in validate(bad_deepspeed(workspace, "{nope"), with_llamafactory=False).error
    error = validate(
        bad_deepspeed(workspace, '{"zero_optimization": {"stage": 5}}'), with_llamafactory=False
    ).error
    assert "field 'zero_optimization.stage'" in error
    error = validate(
        bad_deepspeed(workspace, '{"train_micro_batch_size_per_gpu": 4}'), with_llamafactory=False
    ).error
    assert "disagrees with the YAML's per_device_train_batch_size=1" in error
    missing = variant(workspace, "dsmissing", deepspeed=str(workspace / "absent.json"))
    assert "does not exist" in validate(missing, with_llamafactory=False).error


def test_hub_model_is_a_warning_not_an_error(workspace):
    report = validate(
        variant(workspace, "hub", model_name_or_path="Qwen/Qwen2.5-7B-Instruct"), with_llamafactory=False
    )
    assert report.ok and "fetched from the hub" in report.warnings[0]


@pytest.mark.train
def test_llamafactory_catches_the_rest(workspace, train_python):
    """`thoughtmill train validate` with every variant: one LLaMA-Factory process (its import costs ~4 s)."""
    info = json.loads((workspace / "data" / "dataset_info.json").read_text())
    info["wrong_tags"] = {
        **info["thoughtmill_verified"],
        "tags": {**info["thoughtmill_verified"]["tags"], "user_tag": "human"},
    }
    (workspace / "data" / "dataset_info.json").write_text(json.dumps(info))
    cases = {
        "good": (variant(workspace, "good"), None),
        "unknown key": (variant(workspace, "key", learning_rat=0.1), "unknown key(s) ['learning_rat']"),
        "unknown template": (variant(workspace, "tpl", template="qwen9"), "unknown template 'qwen9'"),
        "bad finetuning": (
            variant(workspace, "ft", finetuning_type="partial"),
            "finetuning_type is not one of",
        ),
        "bad scheduler": (
            variant(workspace, "sched", lr_scheduler_type="cosinus"),
            "not a valid SchedulerType",
        ),
        "bf16 on cpu": (variant(workspace, "bf16", bf16=True, use_cpu=None), None),
        "tags": (
            variant(workspace, "tags", dataset="wrong_tags"),
            "columns/tags in dataset_info.json do not match",
        ),
    }
    result = CliRunner().invoke(app, ["validate", *(str(path) for path, _ in cases.values())])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    for label, (path, expected) in cases.items():
        if expected is None:
            assert f"OK: {path}" in lines, f"{label}: {result.output}"
        else:
            errors = [line for line in lines if line.startswith(f"error: {path}: ")]
            assert len(errors) == 1 and expected in errors[0], f"{label}: {errors or result.output}"
    good, bf16 = cases["good"][0], cases["bf16 on cpu"][0]
    assert any(line.startswith(f"note: {good}: loaded a sample") for line in lines)
    assert any(line.startswith(f"note: {bf16}:") and "use_cpu=true" in line for line in lines)
