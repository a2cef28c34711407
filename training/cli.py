"""`thoughtmill train ...`: export, recipe, validate, run (a typer app the main CLI mounts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from thoughtmill.training.errors import TrainingError

app = typer.Typer(
    help="Hand a verified set to LLaMA-Factory: export, recipes, validation, launch.", no_args_is_help=True
)


def _fail(err: Exception) -> typer.Exit:
    typer.echo(f"error: {err}", err=True)
    return typer.Exit(code=1)


@app.command()
def export(
    input: str = typer.Argument(
        ..., help="verified set: a save_to_disk folder, a .parquet file or a folder of them"
    ),
    out_dir: Path = typer.Argument(..., help="dataset_dir for LLaMA-Factory (dataset_info.json goes here)"),
    name: str = typer.Option("thoughtmill_verified", help="dataset name registered in dataset_info.json"),
    layout: str = typer.Option(
        "markers", help="markers (OpenThoughts thought/solution blocks) or think (<think>...</think>)"
    ),
    system: str = typer.Option(
        "openthoughts", help="openthoughts (published prompt), none, or the literal text"
    ),
    system_file: Path | None = typer.Option(
        None, help="read the system prompt from this file (overrides --system)"
    ),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or parquet shards"),
    shard_rows: int = typer.Option(20_000, help="rows per shard"),
    include_unverified: bool = typer.Option(False, help="also export rows whose `verified` is not true"),
    tokenizer: str | None = typer.Option(
        None, help="student tokenizer folder: lengths in tokens (needs transformers)"
    ),
    max_tokens: int | None = typer.Option(
        None, help="drop rows longer than this many tokens (e.g. the cutoff_len)"
    ),
) -> None:
    """Write LLaMA-Factory sharegpt shards + dataset_info.json + a summary with a length histogram."""
    from thoughtmill.training.export import ExportOptions
    from thoughtmill.training.export import export as run_export

    text = system_file.read_text(encoding="utf-8") if system_file else system
    opts = ExportOptions(
        name=name,
        layout=layout,
        system=text,
        format=fmt,
        shard_rows=shard_rows,  # type: ignore[arg-type]
        include_unverified=include_unverified,
        tokenizer=tokenizer,
        max_tokens=max_tokens,
    )
    try:
        summary = run_export(input, out_dir, opts)
    except TrainingError as err:
        raise _fail(err) from err
    unit = summary["length"]["unit"]
    typer.echo(
        f"exported {summary['rows_written']} of {summary['rows_in']} rows "
        f"({summary['rows_unverified_skipped']} unverified skipped, {summary['rows_too_long']} too long) "
        f"into {len(summary['shards'])} shard(s) under {out_dir / name}"
    )
    for bucket in summary["length"]["histogram"]:
        if bucket["count"]:
            hi = bucket["hi"] if bucket["hi"] is not None else "inf"
            typer.echo(f"  {unit} [{bucket['lo']}, {hi}): {bucket['count']}")
    typer.echo(f"dataset_info: {summary['dataset_info']}\nsummary: {out_dir / (name + '.summary.json')}")


@app.command()
def recipe(
    preset: str = typer.Argument(
        "openthinker-7b", help="preset name (configs/training/) or a preset YAML file"
    ),
    overrides: list[str] | None = typer.Argument(
        None, help="key=value overrides (LLaMA-Factory keys, nodes=, ds.<path>=)"
    ),
    out: Path = typer.Option(Path("runs/train-config"), help="folder for the YAML and the DeepSpeed JSON"),
    nodes: int | None = typer.Option(None, help="number of nodes"),
    gpus_per_node: int | None = typer.Option(None, help="GPUs per node"),
    global_batch_size: int | None = typer.Option(None, help="global batch (default 96)"),
    deepspeed: str | None = typer.Option(None, help="zero3, zero3_offload or none"),
    list_presets: bool = typer.Option(False, "--list", help="list presets and exit"),
) -> None:
    """Emit a LLaMA-Factory YAML (+ DeepSpeed JSON); prints the derived gradient accumulation."""
    from thoughtmill.training import recipes

    if list_presets:
        typer.echo("\n".join(recipes.list_presets()))
        return
    extra = [
        f"{k}={v}"
        for k, v in (
            ("nodes", nodes),
            ("gpus_per_node", gpus_per_node),
            ("global_batch_size", global_batch_size),
            ("deepspeed", deepspeed),
        )
        if v is not None
    ]
    try:
        built = recipes.build_recipe(preset, [*(overrides or []), *extra])
        yaml_path, ds_path = recipes.emit(built, out)
    except TrainingError as err:
        raise _fail(err) from err
    typer.echo(built.batch_line())
    typer.echo(f"wrote {yaml_path}" + (f" and {ds_path}" if ds_path else ""))


@app.command()
def validate(
    configs: list[Path] = typer.Argument(..., help="LLaMA-Factory YAML file(s)"),
    cwd: Path | None = typer.Option(
        None, help="directory the training will be launched from (default: here)"
    ),
    llamafactory: bool = typer.Option(True, help="also check with LLaMA-Factory's own parser and loader"),
    load_data: bool = typer.Option(True, help="load a sample of each dataset through LLaMA-Factory's loader"),
) -> None:
    """Report the first error of each config in plain words (exit 1 if any), or OK."""
    from thoughtmill.training.validate import validate_many

    try:
        reports = validate_many(list(configs), cwd, with_llamafactory=llamafactory, load_data=load_data)
    except TrainingError as err:
        raise _fail(err) from err
    failed = False
    for report in reports:
        for warning in report.warnings:
            typer.echo(f"warning: {report.config}: {warning}")
        for note in report.notes:
            typer.echo(f"note: {report.config}: {note}")
        if report.error:
            failed = True
            typer.echo(f"error: {report.config}: {report.error}", err=True)
        else:
            typer.echo(f"OK: {report.config}")
    if failed:
        raise typer.Exit(code=1)


def _progress(entry: dict[str, Any]) -> None:
    if "loss" in entry:
        typer.echo(
            f"step {entry.get('current_steps')}/{entry.get('total_steps')} loss {entry['loss']:.4f} "
            f"lr {entry.get('lr', 0):.3g} epoch {entry.get('epoch', 0):.2f} "
            f"elapsed {entry.get('elapsed_time')} remaining {entry.get('remaining_time')}"
        )


@app.command()
def run(
    config: Path = typer.Argument(..., help="LLaMA-Factory YAML"),
    cwd: Path | None = typer.Option(None, help="directory to launch from (relative paths resolve here)"),
    check: bool = typer.Option(True, "--validate/--no-validate", help="validate before launching"),
    nproc_per_node: int | None = typer.Option(None, help="GPUs on this node (torchrun when > 1)"),
    nnodes: int | None = typer.Option(None, help="number of nodes (torchrun when > 1)"),
    node_rank: int | None = typer.Option(None, help="rank of this node"),
    master_addr: str | None = typer.Option(None, help="address of node 0"),
    master_port: int | None = typer.Option(None, help="port on node 0"),
    verbose: bool = typer.Option(False, help="echo LLaMA-Factory's own output too"),
    summary_json: Path | None = typer.Option(None, help="also write the run summary here"),
) -> None:
    """Run `llamafactory-cli train` in the train environment, streaming progress; prints a summary."""
    from thoughtmill.training.launch import Distributed
    from thoughtmill.training.launch import run as run_training
    from thoughtmill.training.validate import validate as run_validate

    try:
        if check:
            report = run_validate(config, cwd)
            if report.error:
                raise _fail(Exception(f"{config}: {report.error} (use --no-validate to launch anyway)"))
        summary = run_training(
            config,
            cwd=cwd,
            distributed=Distributed(nproc_per_node, nnodes, node_rank, master_addr, master_port),
            on_line=(lambda line: typer.echo(line)) if verbose else None,
            on_progress=_progress,
        )
    except TrainingError as err:
        raise _fail(err) from err
    data = summary.to_dict()
    data.pop("log_tail")
    data.pop("losses")
    typer.echo(json.dumps(data, indent=2))
    if summary_json:
        summary_json.write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")


def main() -> None:
    """Entry point for `python -m training.cli`."""
    app()


if __name__ == "__main__":
    main()
