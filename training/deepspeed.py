"""DeepSpeed ZeRO-3 configs (with and without CPU offload) as pydantic models.

Batch sizes, accumulation and precision are "auto" so the HF Trainer fills them from the LLaMA-Factory
YAML: one source of truth for the batch arithmetic. The same models validate a user's JSON, because
LLaMA-Factory's parser cannot look inside it without deepspeed installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Auto = Literal["auto"]
DeepSpeedChoice = Literal["zero3", "zero3_offload", "none"]
FILE_NAMES = {"zero3": "ds_z3_config.json", "zero3_offload": "ds_z3_offload_config.json"}


class Offload(BaseModel):
    """Where ZeRO keeps optimizer states or parameters off the GPU."""

    model_config = ConfigDict(extra="allow")
    device: Literal["cpu", "nvme", "none"] = "cpu"
    pin_memory: bool = True


class ZeroOptimization(BaseModel):
    """The `zero_optimization` block; unknown DeepSpeed keys pass through."""

    model_config = ConfigDict(extra="allow")
    stage: Literal[0, 1, 2, 3] = 3
    overlap_comm: bool = False
    contiguous_gradients: bool = True
    sub_group_size: int = 1_000_000_000
    reduce_bucket_size: int | Auto = "auto"
    stage3_prefetch_bucket_size: int | Auto = "auto"
    stage3_param_persistence_threshold: int | Auto = "auto"
    stage3_max_live_parameters: int = 1_000_000_000
    stage3_max_reuse_distance: int = 1_000_000_000
    stage3_gather_16bit_weights_on_model_save: bool = True
    offload_optimizer: Offload | None = None
    offload_param: Offload | None = None


class DeepSpeedConfig(BaseModel):
    """A DeepSpeed JSON as the HF Trainer consumes it."""

    model_config = ConfigDict(extra="allow")
    train_batch_size: int | Auto = "auto"
    train_micro_batch_size_per_gpu: int | Auto = "auto"
    gradient_accumulation_steps: int | Auto = "auto"
    gradient_clipping: float | Auto = "auto"
    zero_allow_untested_optimizer: bool = True
    fp16: dict[str, Any] = Field(
        default_factory=lambda: {
            "enabled": "auto",
            "loss_scale": 0,
            "loss_scale_window": 1000,
            "initial_scale_power": 16,
            "hysteresis": 2,
            "min_loss_scale": 1,
        }
    )
    bf16: dict[str, Any] = Field(default_factory=lambda: {"enabled": "auto"})
    zero_optimization: ZeroOptimization = Field(default_factory=ZeroOptimization)


def preset(choice: DeepSpeedChoice) -> DeepSpeedConfig | None:
    """ZeRO-3, or ZeRO-3 with optimizer and parameters offloaded to CPU memory; None for 'none'."""
    if choice == "none":
        return None
    zero = ZeroOptimization()
    if choice == "zero3_offload":
        zero = ZeroOptimization(offload_optimizer=Offload(), offload_param=Offload())
    return DeepSpeedConfig(zero_optimization=zero)


def to_json(config: DeepSpeedConfig) -> str:
    """The JSON text written beside the YAML."""
    return json.dumps(config.model_dump(exclude_none=True), indent=2) + "\n"


def check_file(path: Path, micro_batch: Any = None, accumulation: Any = None) -> list[str]:
    """Problems with a DeepSpeed JSON, in plain words (empty when it is usable)."""
    if not path.is_file():
        return [f"deepspeed config {path} does not exist"]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        return [f"deepspeed config {path} is not valid JSON: {err}"]
    if not isinstance(data, dict):
        return [f"deepspeed config {path} must be a JSON object, got {type(data).__name__}"]
    try:
        config = DeepSpeedConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return [f"deepspeed config {path}: field '{where}' {first['msg']} (got {first.get('input')!r})"]
    problems = []
    pairs = (
        (
            "train_micro_batch_size_per_gpu",
            config.train_micro_batch_size_per_gpu,
            "per_device_train_batch_size",
            micro_batch,
        ),
        (
            "gradient_accumulation_steps",
            config.gradient_accumulation_steps,
            "gradient_accumulation_steps",
            accumulation,
        ),
    )
    for ds_key, ds_value, yaml_key, yaml_value in pairs:
        if ds_value != "auto" and yaml_value is not None and ds_value != yaml_value:
            problems.append(
                f"deepspeed config {path}: {ds_key}={ds_value} disagrees with the YAML's {yaml_key}={yaml_value} "
                '(use "auto" to take it from the YAML)'
            )
    return problems
