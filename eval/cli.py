"""``thoughtmill eval``: evaluate a model on Evalchemy's reasoning benchmarks, or re-score a run.

    thoughtmill eval --model Qwen/Qwen2.5-7B-Instruct --tasks AIME24,MATH500 --backend vllm --tp 2
    thoughtmill eval --model my-model --backend openai --base-url http://localhost:8000/v1 --tasks GPQADiamond
    thoughtmill eval --teacher-config my-teacher.yaml --tasks MATH500      # any registered provider
    thoughtmill eval rescore eval_results/my-model

The lead mounts ``app`` under the top-level command (``app.add_typer(eval_app, name="eval")``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer
import yaml
from thoughtmill.eval.benchmarks import TASKS, task_class
from thoughtmill.eval.errors import EvalError

app = typer.Typer(
    help="Evaluate models the way Evalchemy does (AIME24/25, AMC23, MATH500, GPQA-Diamond, LiveCodeBench).",
    no_args_is_help=False,
)


def parse_tasks(spec: str) -> list[str]:
    """``"AIME24,math500"`` -> canonical task names (a bad name lists the known ones)."""
    names = [t for t in (s.strip() for s in spec.split(",")) if t]
    if not names:
        raise typer.BadParameter(f"no tasks given; known: {', '.join(TASKS)}")
    try:
        return [task_class(n).name for n in names]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def parse_data(entries: list[str]) -> dict[str, str]:
    """``TASK=PATH`` pairs -> {canonical task: path}."""
    out = {}
    for entry in entries:
        task, sep, path = entry.partition("=")
        if not sep or not path:
            raise typer.BadParameter(f"--data expects TASK=PATH, got {entry!r}")
        try:
            out[task_class(task).name] = path
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return out


def parse_shard(spec: str) -> tuple[int, int]:
    index, sep, count = spec.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError as exc:
        raise typer.BadParameter(f"--shard expects I/N, got {spec!r}") from exc
    if not sep or shard[1] < 1 or not 0 <= shard[0] < shard[1]:
        raise typer.BadParameter(f"--shard expects I/N with 0 <= I < N, got {spec!r}")
    return shard


def parse_settings(items: list[str]) -> dict[str, Any]:
    """``--set a.b=value`` items -> {"a.b": YAML-parsed value}."""
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--set expects KEY=VALUE, got {item!r}", param_hint="--set")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


def _teacher_file(spec: str, overrides: dict[str, Any]) -> Any:
    """A teacher YAML (path or bundled name) with the command line's keys applied on top."""
    from thoughtmill.curation.engine.config import TeacherConfig, apply_overrides, load_teacher
    from thoughtmill.curation.errors import ConfigError

    try:
        data = apply_overrides(load_teacher(spec).model_dump(), overrides)
        return TeacherConfig.from_dict(data, source=spec)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--teacher-config") from exc


def _lcb_limits(timeout: float | None) -> Any:
    if timeout is None:
        return None
    from thoughtmill.execution import Limits

    return Limits(time_s=timeout)


@app.callback(invoke_without_command=True)
def evaluate_command(
    ctx: typer.Context,
    model: str = typer.Option(
        None, "--model", "-m", help="model id or path (served name for --backend openai)"
    ),
    tasks: str = typer.Option("AIME24,AIME25,AMC23,MATH500,GPQADiamond,LiveCodeBench", "--tasks", "-t"),
    backend: str = typer.Option(
        None,
        "--backend",
        "-b",
        help="a teacher provider (vllm, openai, replay: --model is then a JSONL of recorded answers, or one "
        "your code registered) or transformers; default vllm, or the provider of --teacher-config",
    ),
    output: Path = typer.Option(
        Path("eval_results"), "--output", "-o", help="results root (<output>/<model>/...)"
    ),
    model_name: str = typer.Option(
        None, "--model-name", help="label for the results folder (default: --model)"
    ),
    repeats: int = typer.Option(
        None, "--repeats", help="samples per question for every task (default: each task's)"
    ),
    seed: int = typer.Option(0, "--seed", help="seed of repeat 0; repeat i uses seed+i"),
    temperature: float = typer.Option(0.7, "--temperature"),
    max_new_tokens: int = typer.Option(32768, "--max-new-tokens"),
    top_p: float = typer.Option(1.0, "--top-p"),
    system_instruction: str = typer.Option(None, "--system-instruction"),
    limit: int = typer.Option(None, "--limit", help="only the first N questions of each task (debugging)"),
    data: list[str] = typer.Option(
        [], "--data", help="TASK=PATH local file (json/jsonl/parquet) instead of the hub"
    ),
    shuffle_seed: int = typer.Option(
        0, "--gpqa-shuffle-seed", help="base seed of GPQA's per-question option shuffle"
    ),
    lcb_release: str = typer.Option("release_v2", "--lcb-release"),
    lcb_public_tests: bool = typer.Option(False, "--lcb-public-tests", help="also run the public tests"),
    lcb_timeout: float = typer.Option(None, "--lcb-timeout", help="per-test time limit in seconds"),
    shard: str = typer.Option("0/1", "--shard", help="I/N: generate only every N-th request starting at I"),
    generate_only: bool = typer.Option(False, "--generate-only", help="save generations, do not score"),
    teacher_config: str = typer.Option(
        None, "--teacher-config", help="a teacher YAML (path or bundled name) of any provider"
    ),
    settings: list[str] = typer.Option(
        [], "--set", help="KEY=VALUE teacher-config key for any provider (dotted: vllm.enforce_eager=true)"
    ),
    base_url: list[str] = typer.Option([], "--base-url", help="openai: server URL (repeat for replicas)"),
    api_key_env: str = typer.Option(None, "--api-key-env", help="openai: env var holding the API key"),
    max_concurrency: int = typer.Option(None, "--max-concurrency"),
    requests_per_minute: float = typer.Option(None, "--requests-per-minute"),
    tp: int = typer.Option(None, "--tp", help="vllm: tensor parallel size (default 1)"),
    dp: int = typer.Option(None, "--dp", help="vllm: data parallel size (default 1)"),
    max_model_len: int = typer.Option(None, "--max-model-len"),
    gpu_memory_utilization: float = typer.Option(None, "--gpu-memory-utilization", help="vllm (default 0.9)"),
    dtype: str = typer.Option(None, "--dtype", help="vllm, transformers (default auto)"),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code"),
    batch_size: int = typer.Option(8, "--batch-size", help="transformers: prompts per forward pass"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Generate, save and score; writes <output>/<model>/results_<timestamp>.json and prints a table."""
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not model and not teacher_config:
        raise typer.BadParameter("--model is required (or --teacher-config)", param_hint="--model")
    from thoughtmill.eval.backends import make_model
    from thoughtmill.eval.results import print_summary, sanitize_model_name
    from thoughtmill.eval.runner import evaluate

    task_list = parse_tasks(tasks)
    flags = {
        "base_urls": base_url or None,
        "api_key_env": api_key_env,
        "max_concurrency": max_concurrency,
        "requests_per_minute": requests_per_minute,
        "vllm.tensor_parallel_size": tp,
        "data_parallel_size": dp,
        "vllm.max_model_len": max_model_len,
        "vllm.gpu_memory_utilization": gpu_memory_utilization,
        "vllm.dtype": dtype,
        "vllm.trust_remote_code": trust_remote_code or None,
    }
    overrides = {key: value for key, value in flags.items() if value is not None}
    overrides.update(parse_settings(settings))
    teacher = _teacher_file(teacher_config, overrides) if teacher_config else None
    backend = backend or (teacher.provider if teacher else "vllm")
    label = model_name or model or (teacher.model if teacher else "")
    if backend == "transformers":
        options: dict[str, Any] = {
            "dtype": dtype or "auto",
            "batch_size": batch_size,
            "trust_remote_code": trust_remote_code,
        }
    else:
        options = {"working_dir": output / sanitize_model_name(label) / "engine"}
        options.update({"teacher": teacher} if teacher else overrides)
    try:
        llm = make_model(backend, model or "", name=label, **options)
    except EvalError as exc:
        raise typer.BadParameter(str(exc), param_hint="--backend") from exc
    task_options = {
        "repeats": repeats,
        "seed": seed,
        "temperature": temperature,
        "max_new_tokens": max_new_tokens,
        "top_p": top_p,
        "system_instruction": system_instruction,
        "limit": limit,
        "shuffle_seed": shuffle_seed,
        "release": lcb_release,
        "include_public_tests": lcb_public_tests,
        "limits": _lcb_limits(lcb_timeout),
    }
    results, path = evaluate(
        llm,
        task_list,
        output=output,
        model_name=label,
        task_options=task_options,
        data_paths=parse_data(data),
        shard=parse_shard(shard),
        generate_only=generate_only,
        config={"backend": backend},
    )
    if results is None:
        typer.echo(f"generations saved under {output / sanitize_model_name(label) / 'generations'}")
        return
    print_summary(results)
    typer.echo(f"results: {path}")


@app.command("rescore")
def rescore_command(
    run: Path = typer.Argument(..., help="<output>/<model> folder of a finished run"),
    tasks: str = typer.Option(None, "--tasks", "-t", help="default: every saved task"),
    output: Path = typer.Option(None, "--output", "-o", help="results root (default: next to the run)"),
    lcb_timeout: float = typer.Option(None, "--lcb-timeout"),
) -> None:
    """Score saved generations again without the model; writes a new results file."""
    from thoughtmill.eval.results import print_summary
    from thoughtmill.eval.runner import rescore

    overrides = {"limits": _lcb_limits(lcb_timeout)} if lcb_timeout else None
    results, path = rescore(
        run, tasks=parse_tasks(tasks) if tasks else None, output=output, overrides=overrides
    )
    print_summary(results)
    typer.echo(f"results: {path}")


def main() -> None:  # pragma: no cover - `python -m eval.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
