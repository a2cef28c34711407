"""Run inside the LLaMA-Factory environment: check a config with LLaMA-Factory's own code.

Invoked by `training.validate` as `TRAIN_PYTHON -m training.lf_probe` with the configs (JSON) on stdin. Prints one line
`THOUGHTMILL_PROBE [json, ...]` with the first error found in each config, if any. Kept free of
thoughtmill's main-environment dependencies: stdlib, llamafactory and pyarrow only.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

MARKER = "THOUGHTMILL_PROBE "
SAMPLE_ROWS = 32


def _plain(err: BaseException) -> str:
    """LLaMA-Factory / HfArgumentParser messages rewritten in plain words where we know them."""
    text = str(err).strip() or type(err).__name__
    if "Some keys are not used by the HfArgumentParser" in text:
        keys = text.split(":", 1)[1].strip()
        return f"unknown key(s) {keys}: LLaMA-Factory has no such argument (check the spelling)"
    if text.startswith("Undefined dataset"):
        return text.replace("Undefined dataset", "dataset").replace(" in ", " is not defined in ", 1)
    if "is not a valid SchedulerType" in text:
        return f"lr_scheduler_type: {text}"
    if text == "Invalid fine-tuning method.":
        return "finetuning_type is not one of full, lora, freeze, oft"
    return text


def _sample_entry(entry: dict[str, Any], dataset_dir: str, tmp: Path) -> dict[str, Any]:
    """A copy of a file dataset entry pointing at its first SAMPLE_ROWS rows (bounded cost)."""
    local = Path(dataset_dir) / entry["file_name"]
    files = sorted(p for p in local.iterdir() if p.is_file()) if local.is_dir() else [local]
    first = files[0]
    sample = tmp / f"sample{first.suffix}"
    if first.suffix == ".jsonl":
        with first.open(encoding="utf-8") as src, sample.open("w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i >= SAMPLE_ROWS:
                    break
                dst.write(line)
    elif first.suffix == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(first)
        batch = next(pf.iter_batches(batch_size=SAMPLE_ROWS))
        pq.write_table(__import__("pyarrow").Table.from_batches([batch]), sample)
    else:
        sample = first
    return {**entry, "file_name": str(sample.resolve())}


def _check_data(
    dataset_list: list[Any],
    names: list[str],
    info: dict[str, Any],
    args: dict[str, Any],
    model_args: Any,
    data_args: Any,
    training_args: Any,
) -> str | None:
    """Load a sample of each local dataset through LLaMA-Factory's loader and converter."""
    from llamafactory.data.loader import _load_single_dataset
    from llamafactory.data.parser import get_dataset_list

    data_args.preprocessing_num_workers = None
    data_args.streaming = False
    data_args.max_samples = SAMPLE_ROWS
    dataset_dir = args.get("dataset_dir", "data")
    for name, attr in zip(names, dataset_list, strict=True):
        if attr.load_from != "file":
            continue
        entry = info[name]
        local = Path(dataset_dir) / entry["file_name"]
        if not local.exists():
            return f"dataset {name}: file_name {entry['file_name']!r} does not exist under dataset_dir {dataset_dir!r} ({local})"
        if local.is_dir() and not any(p.is_file() for p in local.iterdir()):
            return f"dataset {name}: folder {local} holds no data files"
        with tempfile.TemporaryDirectory() as tmp:
            model_args.cache_dir = str(Path(tmp) / "cache")  # keep the sample out of the user's HF cache
            sampled = get_dataset_list([name], {name: _sample_entry(entry, dataset_dir, Path(tmp))})[0]
            try:
                aligned = _load_single_dataset(sampled, model_args, data_args, training_args)
            except Exception as err:  # the loader's own words are the report
                return f"dataset {name}: LLaMA-Factory could not load {local}: {_plain(err)}"
            if len(aligned) == 0:
                return f"dataset {name}: {local} has no rows"
            usable = sum(1 for row in aligned if row["_prompt"] and row["_response"])
            if usable == 0:
                return (
                    f"dataset {name}: none of the first {len(aligned)} rows of {local} converted to a prompt and "
                    "a response: the columns/tags in dataset_info.json do not match the file"
                )
    return None


def probe(args: dict[str, Any], load_data: bool) -> dict[str, Any]:
    """Template, dataset registry, argument parser and a data sample, first error wins."""
    notes: list[str] = []
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.data.template import TEMPLATES
    from llamafactory.hparams import get_train_args

    template = args.get("template")
    if template is not None and template not in TEMPLATES:
        close = difflib.get_close_matches(str(template), list(TEMPLATES), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return {"error": f"unknown template {template!r}{hint}", "notes": notes}

    names = [n.strip() for n in str(args.get("dataset") or "").split(",") if n.strip()]
    dataset_dir = args.get("dataset_dir", "data")
    try:
        dataset_list = get_dataset_list(names, dataset_dir)
    except Exception as err:
        return {"error": _plain(err), "notes": notes}

    parse_args = dict(args)
    if parse_args.pop("deepspeed", None) is not None:
        notes.append(
            "deepspeed JSON checked by thoughtmill (LLaMA-Factory's parser needs deepspeed installed)"
        )
    import torch

    if (
        not torch.cuda.is_available()
        and (parse_args.get("bf16") or parse_args.get("fp16"))
        and not parse_args.get("use_cpu")
    ):
        parse_args["use_cpu"] = True
        notes.append(
            "no GPU here: parsed with use_cpu=true; bf16/fp16 support is checked on the training host"
        )
    try:
        model_args, data_args, training_args, _, _ = get_train_args(parse_args)
    except (Exception, SystemExit) as err:  # HfArgumentParser may exit instead of raising
        return {"error": _plain(err), "notes": notes}

    if load_data and names and dataset_dir != "ONLINE":
        info = json.loads((Path(dataset_dir) / "dataset_info.json").read_text(encoding="utf-8"))
        error = _check_data(dataset_list, names, info, args, model_args, data_args, training_args)
        if error:
            return {"error": error, "notes": notes}
        notes.append(f"loaded a sample of {', '.join(names)} through LLaMA-Factory's loader and converter")
    return {"error": None, "notes": notes}


def main() -> int:
    """stdin: {"requests": [{"args": {...}, "load_data": bool}, ...]}; stdout: the marker line.

    Several configs share one process so the ~4 s llamafactory import is paid once.
    """
    request = json.loads(sys.stdin.read())
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = []
    for item in request["requests"]:
        try:
            results.append(probe(item["args"], bool(item.get("load_data", True))))
        except Exception as err:  # the caller needs an answer per config, whatever happened
            results.append({"error": f"{type(err).__name__}: {_plain(err)}", "notes": []})
    sys.stdout.write(MARKER + json.dumps(results) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
