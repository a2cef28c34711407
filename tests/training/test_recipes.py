"""OpenThinker presets: published values, derived accumulation, overrides, emitted files."""

from __future__ import annotations

import json

import pytest
from thoughtmill.training import recipes, yamlio
from thoughtmill.training.cli import app
from thoughtmill.training.errors import RecipeError
from typer.testing import CliRunner


@pytest.mark.parametrize(
    ("preset", "model"),
    [("openthinker-7b", "Qwen/Qwen2.5-7B-Instruct"), ("openthinker-32b", "Qwen/Qwen2.5-32B-Instruct")],
)
def test_published_values(preset, model, tmp_path):
    recipe = recipes.build_recipe(preset)
    yaml_path, ds_path = recipes.emit(recipe, tmp_path)
    args = yamlio.load_file(yaml_path)
    assert args["model_name_or_path"] == model
    assert (args["stage"], args["finetuning_type"], args["do_train"]) == ("sft", "full", True)
    assert args["cutoff_len"] == 16384
    assert args["num_train_epochs"] == 3.0
    assert args["learning_rate"] == 1e-5 and isinstance(args["learning_rate"], float)
    assert (args["lr_scheduler_type"], args["warmup_ratio"], args["bf16"]) == ("cosine", 0.1, True)
    assert args["per_device_train_batch_size"] == 1
    assert args["gradient_accumulation_steps"] == 3  # 4 nodes x 8 GPUs x 1 x 3 = 96
    assert args["template"] == "qwen"
    assert args["deepspeed"] == str(ds_path)
    ds = json.loads(ds_path.read_text())
    assert ds["zero_optimization"]["stage"] == 3 and "offload_optimizer" not in ds["zero_optimization"]
    assert ds["train_micro_batch_size_per_gpu"] == ds["gradient_accumulation_steps"] == "auto"
    assert "global batch 96" in yaml_path.read_text().splitlines()[2]


@pytest.mark.parametrize(
    ("nodes", "gpus", "accumulation"), [(1, 1, 96), (1, 8, 12), (2, 8, 6), (4, 8, 3), (12, 8, 1)]
)
def test_accumulation_is_derived(nodes, gpus, accumulation):
    recipe = recipes.build_recipe("openthinker-7b", [f"nodes={nodes}", f"gpus_per_node={gpus}"])
    assert recipe.accumulation() == accumulation
    assert recipes.llamafactory_args(recipe, None)["gradient_accumulation_steps"] == accumulation
    assert f"gradient accumulation {accumulation} = global batch 96" in recipe.batch_line()


def test_indivisible_topology_is_an_error():
    with pytest.raises(RecipeError, match=r"not divisible by .* = 5 x 8 x 1 = 40"):
        recipes.build_recipe("openthinker-7b", ["nodes=5"])
    with pytest.raises(RecipeError, match="global batch of 128, not global_batch_size=96"):
        recipes.build_recipe("openthinker-7b", ["gradient_accumulation_steps=4"])
    assert recipes.build_recipe("openthinker-7b", ["gradient_accumulation_steps=3"]).accumulation() == 3


def test_overrides_reach_yaml_and_deepspeed_json(tmp_path):
    recipe = recipes.build_recipe(
        "openthinker-32b",
        [
            "deepspeed=zero3_offload",
            "learning_rate=2e-5",
            "cutoff_len=8192",
            "flash_attn=fa2",
            "ds.zero_optimization.overlap_comm=true",
            "global_batch_size=128",
            "nodes=2",
        ],
    )
    yaml_path, ds_path = recipes.emit(recipe, tmp_path)
    args = yamlio.load_file(yaml_path)
    assert args["learning_rate"] == 2e-5 and args["cutoff_len"] == 8192 and args["flash_attn"] == "fa2"
    assert args["gradient_accumulation_steps"] == 8  # 128 / (2 x 8)
    assert ds_path.name == "ds_z3_offload_config.json"
    zero = json.loads(ds_path.read_text())["zero_optimization"]
    assert zero["overlap_comm"] is True
    assert zero["offload_optimizer"] == zero["offload_param"] == {"device": "cpu", "pin_memory": True}


def test_bad_recipes_name_the_field():
    with pytest.raises(RecipeError, match=r"train\.learning_rate.*must be a number"):
        recipes.build_recipe("openthinker-7b", ['learning_rate="1e-5"'])
    with pytest.raises(RecipeError, match=r"train\.stage"):
        recipes.build_recipe("openthinker-7b", ["stage=sftt"])
    with pytest.raises(RecipeError, match="unknown recipe 'openthinker-99b'"):
        recipes.build_recipe("openthinker-99b")
    with pytest.raises(RecipeError, match="must look like key=value"):
        recipes.build_recipe("openthinker-7b", ["nodes"])
    with pytest.raises(RecipeError, match=r"deepspeed override 'zero_optimization\.stage'"):
        recipes.deepspeed_config(recipes.build_recipe("openthinker-7b", ["ds.zero_optimization.stage=7"]))


def test_cli_prints_the_derivation(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "recipe",
            "openthinker-7b",
            "--out",
            str(tmp_path),
            "--nodes",
            "1",
            "--gpus-per-node",
            "8",
            "warmup_ratio=0.05",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "1 node(s) x 8 GPU(s) x per-device batch 1 x gradient accumulation 12 = global batch 96"
        in result.output
    )
    assert yamlio.load_file(tmp_path / "openthinker-7b.yaml")["warmup_ratio"] == 0.05
    bad = CliRunner().invoke(app, ["recipe", "openthinker-7b", "--out", str(tmp_path), "--nodes", "7"])
    assert bad.exit_code == 1 and "not divisible" in bad.output
