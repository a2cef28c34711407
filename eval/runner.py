"""Run an evaluation: generate (saving as it goes), then score, then write the results file.

Generation and scoring are separate steps joined only by the files in `eval.outputs`: `generate`
fills them (skipping what is already there, so an interrupted or sharded run is finished by running
again), `score` reads them back. `rescore` is `score` on a finished run, without any model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thoughtmill.eval.backends.base import Model
from thoughtmill.eval.benchmarks import Benchmark, make_benchmark, task_class
from thoughtmill.eval.errors import OutputsError
from thoughtmill.eval.outputs import TaskOutputs
from thoughtmill.eval.results import build_results, sanitize_model_name, write_results

logger = logging.getLogger(__name__)

#: Benchmark options saved in task.json and restored for re-scoring.
SAVED_OPTIONS = (
    "repeats",
    "seed",
    "temperature",
    "max_new_tokens",
    "top_p",
    "system_instruction",
    "limit",
    "data_path",
    "shuffle_seed",
    "release",
    "include_public_tests",
)


def generations_dir(output: str | Path, model_name: str) -> Path:
    return Path(output) / sanitize_model_name(model_name) / "generations"


def benchmark_options(benchmark: Benchmark) -> dict[str, Any]:
    attrs = {"shuffle_seed": "shuffle_base_seed"}
    out = {}
    for option in SAVED_OPTIONS:
        value = getattr(benchmark, attrs.get(option, option), None)
        if value is not None:
            out[option] = str(value) if option == "data_path" else value
    return out


def generate(
    benchmark: Benchmark, model: Model, run_dir: Path, shard: tuple[int, int] = (0, 1)
) -> tuple[list[dict[str, Any]], TaskOutputs]:
    """Make sure every request of this shard has a saved generation; return the prepared questions."""
    store = TaskOutputs(run_dir, benchmark.name, shard)
    examples = benchmark.load_examples()
    store.save_task(benchmark_options(benchmark), examples)
    index, count = shard
    requests = [r for i, r in enumerate(benchmark.requests(examples)) if i % count == index]
    done = store.generations(requests)
    todo = [r for r in requests if r.key not in done]
    logger.info(
        "%s: %d requests, %d already saved, %d to generate",
        benchmark.name,
        len(requests),
        len(done),
        len(todo),
    )
    produced = 0
    for request, generation in model.generate(todo):
        store.append(request, generation)
        produced += 1
    if produced < len(todo):
        logger.warning("%s: the model returned %d of %d generations", benchmark.name, produced, len(todo))
    return examples, store


def score(benchmark: Benchmark, store: TaskOutputs, examples: list[dict[str, Any]]) -> dict[str, Any]:
    """Score the saved generations of one task."""
    requests = benchmark.requests(examples)
    responses = benchmark.attach(examples, store.generations(requests))
    return benchmark.evaluate_responses(responses)


def evaluate(
    model: Model,
    tasks: Sequence[str],
    *,
    output: str | Path,
    model_name: str | None = None,
    task_options: dict[str, Any] | None = None,
    per_task_options: dict[str, dict[str, Any]] | None = None,
    data_paths: dict[str, str] | None = None,
    shard: tuple[int, int] = (0, 1),
    generate_only: bool = False,
    config: dict[str, Any] | None = None,
) -> tuple[dict[str, Any] | None, Path | None]:
    """Generate and score ``tasks`` with ``model``; returns the results and the results file path
    (both None with ``generate_only`` or for a shard of a sharded run). ``task_options`` apply to every
    task, ``per_task_options`` (by task name) on top of them."""
    start = time.time()
    name = model_name or model.name
    run_dir = generations_dir(output, name)
    benchmarks = []
    for task in tasks:
        options = dict(task_options or {})
        cls = task_class(task)
        options.update((per_task_options or {}).get(cls.name, {}))
        if data_paths and data_paths.get(cls.name):
            options["data_path"] = data_paths[cls.name]
        benchmarks.append(make_benchmark(cls.name, **options))
    stores = [generate(b, model, run_dir, shard) for b in benchmarks]
    if generate_only or shard[1] > 1:
        return None, None
    task_results = {
        b.name: score(b, store, examples) for b, (examples, store) in zip(benchmarks, stores, strict=True)
    }
    full_config = {
        "model": name,
        "model_args": model.describe(),
        "tasks": ",".join(b.name for b in benchmarks),
        "task_settings": {b.name: b.settings() for b in benchmarks},
        **(config or {}),
    }
    results = build_results(task_results, model_name=name, config=full_config, start_time=start)
    return results, write_results(results, output)


def rescore(
    model_dir: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    output: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Path]:
    """Score a finished run's saved generations again, without the model.

    ``model_dir`` is ``<output>/<model>`` (or its ``generations`` folder). The new results file is
    written next to the old ones unless ``output`` names another root."""
    start = time.time()
    model_dir = Path(model_dir)
    run_dir = model_dir if model_dir.name == "generations" else model_dir / "generations"
    if not run_dir.is_dir():
        raise OutputsError(f"{model_dir}: no generations folder (expected {run_dir})")
    available = sorted(p.name for p in run_dir.iterdir() if (p / "task.json").is_file())
    chosen = [task_class(t).name for t in tasks] if tasks else available
    task_results, settings = {}, {}
    for task in chosen:
        if task not in available:
            raise OutputsError(
                f"{run_dir}: no saved generations for {task} (found: {', '.join(available) or 'none'})"
            )
        store = TaskOutputs(run_dir, task)
        options, examples = store.load_task()
        benchmark = make_benchmark(task, **{**options, **(overrides or {})})
        task_results[task] = score(benchmark, store, examples)
        settings[task] = benchmark.settings()
    model_name = _model_name(run_dir)
    config = {
        "model": model_name,
        "tasks": ",".join(chosen),
        "task_settings": settings,
        "rescored_from": str(run_dir),
    }
    results = build_results(task_results, model_name=model_name, config=config, start_time=start)
    root = Path(output) if output else run_dir.parent.parent
    return results, write_results(results, root)


def _model_name(run_dir: Path) -> str:
    return run_dir.parent.name
