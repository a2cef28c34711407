"""Training recipes: presets in configs/training/*.yaml -> LLaMA-Factory YAML + DeepSpeed JSON.

A preset holds the LLaMA-Factory arguments (`train:`), the cluster shape (`topology:`) and a DeepSpeed
choice. The gradient accumulation is never typed: it is derived from the global batch, the number of
nodes x GPUs and the per-device batch, and an indivisible combination is an error, not a silent
rounding that would change the published recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from thoughtmill.training import deepspeed as ds
from thoughtmill.training import yamlio
from thoughtmill.training.errors import RecipeError

from thoughtmill.overrides import OverrideError, parse_override, set_path
from thoughtmill.resources import bundled_config

CONFIG_DIR = bundled_config("training")
STAGES = ("pt", "sft", "rm", "ppo", "dpo", "kto")


class Topology(BaseModel):
    """Cluster shape and the global batch the accumulation is derived from."""

    model_config = ConfigDict(extra="forbid")
    nodes: int = Field(1, ge=1)
    gpus_per_node: int = Field(1, ge=1)
    global_batch_size: int = Field(96, ge=1)

    @property
    def world_size(self) -> int:
        return self.nodes * self.gpus_per_node

    def accumulation(self, per_device_batch: int) -> int:
        """global / (nodes x GPUs x per-device batch), or an error naming the numbers."""
        per_step = self.world_size * per_device_batch
        if self.global_batch_size % per_step:
            raise RecipeError(
                f"global_batch_size={self.global_batch_size} is not divisible by nodes x gpus_per_node x "
                f"per_device_train_batch_size = {self.nodes} x {self.gpus_per_node} x {per_device_batch} = "
                f"{per_step}; pick a topology or global batch that divides"
            )
        return self.global_batch_size // per_step


class TrainArgs(BaseModel):
    """The LLaMA-Factory arguments a recipe sets; any other LLaMA-Factory key passes through."""

    model_config = ConfigDict(extra="allow")
    model_name_or_path: str
    stage: Literal["pt", "sft", "rm", "ppo", "dpo", "kto"] = "sft"
    do_train: bool = True
    finetuning_type: Literal["full", "lora", "freeze", "oft"] = "full"
    dataset: str
    dataset_dir: str = "data"
    template: str = "qwen"
    cutoff_len: int = Field(16384, ge=1)
    output_dir: str
    per_device_train_batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int | None = None
    learning_rate: float = Field(1e-5, gt=0)
    num_train_epochs: float = 3.0
    lr_scheduler_type: str = "cosine"
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    bf16: bool = True

    @field_validator("learning_rate", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        # A quoted learning rate is a string to the trainer (it fails at the optimizer): say so now.
        if isinstance(value, str):
            raise ValueError(f"must be a number, not the string {value!r} (write it unquoted, e.g. 1.0e-05)")
        return value


class Recipe(BaseModel):
    """A preset file: LLaMA-Factory arguments + topology + DeepSpeed choice (+ JSON tweaks)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    topology: Topology = Field(default_factory=Topology)
    deepspeed: ds.DeepSpeedChoice = "zero3"
    deepspeed_overrides: dict[str, Any] = Field(default_factory=dict)
    train: TrainArgs

    def accumulation(self) -> int:
        """The derived gradient accumulation (checks an explicit value against it)."""
        derived = self.topology.accumulation(self.train.per_device_train_batch_size)
        given = self.train.gradient_accumulation_steps
        if given is not None and given != derived:
            t = self.topology
            raise RecipeError(
                f"gradient_accumulation_steps={given} gives a global batch of "
                f"{given * t.world_size * self.train.per_device_train_batch_size}, not global_batch_size="
                f"{t.global_batch_size}; set global_batch_size (or nodes/gpus_per_node) instead, the "
                "accumulation is derived"
            )
        return derived

    def batch_line(self) -> str:
        """The derivation in one line, printed by the CLI and written into the YAML header."""
        t = self.topology
        return (
            f"{t.nodes} node(s) x {t.gpus_per_node} GPU(s) x per-device batch "
            f"{self.train.per_device_train_batch_size} x gradient accumulation {self.accumulation()} = "
            f"global batch {t.global_batch_size}"
        )


# ---------------------------------------------------------------- presets and overrides


def list_presets() -> list[str]:
    """Names of the preset files in configs/training/."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_preset(name_or_path: str) -> dict[str, Any]:
    """Raw preset data from a file path or a preset name."""
    path = Path(name_or_path)
    if not path.is_file():
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise RecipeError(f"unknown recipe {name_or_path!r}: not a file and not one of {list_presets()}")
    data = yamlio.load_file(path)
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: expected a mapping at the top level")
    return data


def _set_override(data: dict[str, Any], dotted: str, value: Any) -> None:
    try:
        set_path(data, dotted, value)
    except OverrideError as exc:
        raise RecipeError(str(exc)) from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `key=value` overrides: topology keys, `deepspeed`, `ds.<path>`, else LLaMA-Factory keys."""
    data = {**data, "train": dict(data.get("train") or {}), "topology": dict(data.get("topology") or {})}
    for item in overrides:
        try:
            key, value = parse_override(item, parse=yamlio.parse_value)
        except OverrideError as exc:
            raise RecipeError(str(exc)) from None
        if key in Topology.model_fields:
            data["topology"][key] = value
        elif key in ("deepspeed", "name", "description"):
            data[key] = value
        elif key.startswith("ds."):
            data.setdefault("deepspeed_overrides", {})
            data["deepspeed_overrides"] = dict(data["deepspeed_overrides"])
            _set_override(data["deepspeed_overrides"], key[3:], value)
        else:
            for prefix in ("train.", "topology."):
                if key.startswith(prefix):
                    section, key = prefix[:-1], key[len(prefix) :]
                    break
            else:
                section = "train"
            _set_override(data[section], key, value)
    return data


def build_recipe(name_or_path: str, overrides: list[str] | None = None) -> Recipe:
    """Load a preset, apply overrides, validate (pydantic) and check the batch arithmetic."""
    data = apply_overrides(load_preset(name_or_path), overrides or [])
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RecipeError(f"recipe {name_or_path}: field '{where}': {first['msg']}") from err
    recipe.accumulation()
    deepspeed_config(recipe)  # a bad `ds.` override fails here, not at emit time
    return recipe


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def deepspeed_config(recipe: Recipe) -> dict[str, Any] | None:
    """The DeepSpeed JSON data for the recipe (preset + `ds.` overrides), validated."""
    base = ds.preset(recipe.deepspeed)
    if base is None:
        return None
    merged = _merge(base.model_dump(exclude_none=True), recipe.deepspeed_overrides)
    try:
        return ds.DeepSpeedConfig.model_validate(merged).model_dump(exclude_none=True)
    except ValidationError as err:
        first = err.errors()[0]
        raise RecipeError(f"deepspeed override '{'.'.join(map(str, first['loc']))}': {first['msg']}") from err


def llamafactory_args(recipe: Recipe, deepspeed_path: str | None) -> dict[str, Any]:
    """The flat dict written as the LLaMA-Factory YAML (accumulation filled in)."""
    args = recipe.train.model_dump(exclude_none=True)
    args["gradient_accumulation_steps"] = recipe.accumulation()
    if deepspeed_path:
        args["deepspeed"] = deepspeed_path
    else:
        args.pop("deepspeed", None)
    return args


def emit(recipe: Recipe, out_dir: str | Path) -> tuple[Path, Path | None]:
    """Write `<name>.yaml` (+ the DeepSpeed JSON it references) into out_dir; returns both paths."""
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ds_data = deepspeed_config(recipe)
    ds_path = None
    if ds_data is not None:
        ds_path = out / ds.FILE_NAMES[recipe.deepspeed]
        ds_path.write_text(json.dumps(ds_data, indent=2) + "\n", encoding="utf-8")
    args = llamafactory_args(recipe, str(ds_path) if ds_path else None)
    header = (
        f"# LLaMA-Factory config generated by `thoughtmill train recipe {recipe.name}`.\n"
        f"# {recipe.description}\n# {recipe.batch_line()}\n"
        "# Relative paths (dataset_dir, deepspeed, output_dir) resolve against the directory you launch from.\n"
    )
    yaml_path = out / f"{recipe.name}.yaml"
    yaml_path.write_text(header + yamlio.dumps(args), encoding="utf-8")
    return yaml_path, ds_path
