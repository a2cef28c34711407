"""`thoughtmill train validate CONFIG`: the first error in a LLaMA-Factory config, in plain words.

Two layers. Our own checks catch what LLaMA-Factory's parser accepts silently and only fails on hours
later (unknown stage, a quoted learning rate, a dataset missing from dataset_info.json, a broken
DeepSpeed JSON). Then LLaMA-Factory's own code, run in its environment: the template registry, the
dataset registry, `get_train_args`, and a sample of each dataset through its loader and converter.
Relative paths resolve against `cwd`, as they will for `llamafactory-cli` launched there.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thoughtmill.training import deepspeed as ds
from thoughtmill.training import yamlio
from thoughtmill.training.environment import find_train_python, subprocess_env
from thoughtmill.training.errors import ConfigInvalid
from thoughtmill.training.lf_probe import MARKER
from thoughtmill.training.recipes import STAGES

NUMERIC_KEYS = (
    "learning_rate",
    "num_train_epochs",
    "warmup_ratio",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "cutoff_len",
    "max_steps",
    "save_steps",
    "logging_steps",
)


@dataclass
class ValidationReport:
    """Outcome of a validation: `error` is the first problem found, None when the config is usable."""

    config: str
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def raise_for_error(self) -> None:
        if self.error:
            raise ConfigInvalid(f"{self.config}: {self.error}")


def read_config(path: str | Path) -> dict[str, Any]:
    """The YAML as `llamafactory-cli` reads it (floats like 1e-5 included)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigInvalid(f"{p}: config file not found")
    try:
        data = yamlio.load_file(p)
    except Exception as err:
        raise ConfigInvalid(f"{p}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise ConfigInvalid(f"{p}: expected a mapping of LLaMA-Factory arguments, got {type(data).__name__}")
    return data


def _resolve(value: str, cwd: Path) -> Path:
    p = Path(value)
    return p if p.is_absolute() else cwd / p


def _check_datasets(args: dict[str, Any], cwd: Path) -> str | None:
    names = [n.strip() for n in str(args.get("dataset") or "").split(",") if n.strip()]
    dataset_dir = str(args.get("dataset_dir", "data"))
    if not names or dataset_dir == "ONLINE" or dataset_dir.startswith("REMOTE:"):
        return None
    folder = _resolve(dataset_dir, cwd)
    info_path = folder / "dataset_info.json"
    if not info_path.is_file():
        return f"dataset_dir {dataset_dir!r} has no dataset_info.json (looked for {info_path}); run `thoughtmill train export` into it"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        return f"{info_path} is not valid JSON: {err}"
    for name in names:
        if name not in info:
            return f"dataset {name!r} is not defined in {info_path} (defined: {', '.join(sorted(info)) or 'none'})"
        entry = info[name]
        if "file_name" in entry and not (folder / entry["file_name"]).exists():
            return f"dataset {name!r}: file_name {entry['file_name']!r} does not exist in {folder}"
    return None


def local_checks(args: dict[str, Any], config: Path, cwd: Path) -> tuple[str | None, list[str]]:
    """What LLaMA-Factory accepts silently; returns (first error, warnings)."""
    warnings: list[str] = []
    for key in ("model_name_or_path", "stage", "output_dir"):
        if not args.get(key):
            return f"missing required key {key!r}", warnings
    if args["stage"] not in STAGES:
        return f"unknown stage {args['stage']!r}: expected one of {', '.join(STAGES)}", warnings
    for key in NUMERIC_KEYS:
        value = args.get(key)
        if value is not None and (isinstance(value, (str, bool)) or not isinstance(value, (int, float))):
            return (
                f"{key} must be a number, got {value!r} ({type(value).__name__}); write it unquoted, e.g. 1.0e-05",
                warnings,
            )
    if args.get("do_train") and not args.get("dataset"):
        return "do_train is set but no dataset is named (key 'dataset')", warnings
    error = _check_datasets(args, cwd)
    if error:
        return error, warnings
    if args.get("deepspeed"):
        path = _resolve(str(args["deepspeed"]), cwd)
        problems = ds.check_file(
            path, args.get("per_device_train_batch_size"), args.get("gradient_accumulation_steps")
        )
        if problems:
            beside = config.parent / str(args["deepspeed"])
            if not path.exists() and beside.exists():
                problems[0] += (
                    f" (it exists relative to the config, {beside}: launch from {config.parent} or use an absolute path)"
                )
            return problems[0], warnings
    model = str(args["model_name_or_path"])
    local_model = _resolve(model, cwd)
    if local_model.is_dir():
        if not (local_model / "config.json").is_file():
            return f"model_name_or_path {model!r} is a folder without config.json", warnings
    elif model.startswith((".", "/")):
        return f"model_name_or_path {model!r} does not exist", warnings
    else:
        warnings.append(
            f"model_name_or_path {model!r} is not a local folder: it will be fetched from the hub at launch"
        )
    out = _resolve(str(args["output_dir"]), cwd)
    if out.is_dir() and any(out.glob("checkpoint-*")) and not args.get("overwrite_output_dir"):
        warnings.append(
            f"output_dir {out} holds checkpoints and overwrite_output_dir is not set: training will resume from them"
        )
    return None, warnings


def run_probes(
    items: list[dict[str, Any]], cwd: Path, load_data: bool = True, timeout: float = 600
) -> list[dict[str, Any]]:
    """Ask LLaMA-Factory itself (in the train environment) about each config, in one process."""
    python = find_train_python()
    requests = [{"args": args, "load_data": load_data} for args in items]
    proc = subprocess.run(
        [str(python), "-m", "thoughtmill.training.lf_probe"],
        input=json.dumps({"requests": requests}),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=subprocess_env(),
        timeout=timeout,
        check=False,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    crash = {
        "error": f"the LLaMA-Factory check crashed (exit {proc.returncode}) with {python}:\n{tail}",
        "notes": [],
    }
    return [crash for _ in items]


def validate_many(
    configs: list[str | Path],
    cwd: str | Path | None = None,
    *,
    with_llamafactory: bool = True,
    load_data: bool = True,
) -> list[ValidationReport]:
    """Validate several LLaMA-Factory YAMLs; each report holds its first error (or None)."""
    base = Path(cwd) if cwd else Path.cwd()
    reports, pending = [], []
    for config in configs:
        path = Path(config)
        report = ValidationReport(config=str(path))
        reports.append(report)
        try:
            args = read_config(path)
        except ConfigInvalid as err:
            report.error = str(err).split(": ", 1)[1]
            continue
        report.error, report.warnings = local_checks(args, path, base)
        if report.error is None and with_llamafactory:
            pending.append((report, args))
    if pending:
        results = run_probes([args for _, args in pending], base, load_data=load_data)
        for (report, _), result in zip(pending, results, strict=True):
            report.error = result.get("error")
            report.notes = list(result.get("notes") or [])
    return reports


def validate(
    config: str | Path,
    cwd: str | Path | None = None,
    *,
    with_llamafactory: bool = True,
    load_data: bool = True,
) -> ValidationReport:
    """Validate one LLaMA-Factory YAML; the report holds the first error (or None)."""
    return validate_many([config], cwd, with_llamafactory=with_llamafactory, load_data=load_data)[0]
