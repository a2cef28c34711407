"""Run the stages in order in one run directory, skipping what is finished (resume = run again).

A stage is skipped when its marker matches the current settings and names, as its input, the output
the previous stage has now. A stage that ends "incomplete" (generation with failed requests) runs
again next time; the engine cache makes that cost only the failed rows.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from thoughtmill.curation.engine.dirlock import DirectoryLock
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.pipeline.config import STAGE_ORDER, PipelineConfig
from thoughtmill.curation.pipeline.executors import make_executor
from thoughtmill.curation.pipeline.filters_difficulty import DifficultyStage
from thoughtmill.curation.pipeline.filters_length import ResponseLengthStage
from thoughtmill.curation.pipeline.generation import GenerateStage
from thoughtmill.curation.pipeline.mixing import MixStage
from thoughtmill.curation.pipeline.output import CardStage, WriteStage
from thoughtmill.curation.pipeline.problems import DecontaminateStage, DedupStage, SourcesStage
from thoughtmill.curation.pipeline.rundir import RunDir
from thoughtmill.curation.pipeline.sharding import refuse_layout_change_with_batches_out, run_sharded
from thoughtmill.curation.pipeline.stage import Stage, StageContext
from thoughtmill.curation.pipeline.verification import VerifyStage
from thoughtmill.curation.report import write_report_or_warn

STAGES: dict[str, type[Stage]] = {
    cls.name: cls
    for cls in (
        SourcesStage,
        DedupStage,
        DecontaminateStage,
        MixStage,
        DifficultyStage,
        ResponseLengthStage,
        GenerateStage,
        VerifyStage,
        WriteStage,
        CardStage,
    )
}
assert tuple(STAGES) == STAGE_ORDER


def run_pipeline(
    config: PipelineConfig,
    *,
    until: str | None = None,
    force: Sequence[str] = (),
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or resume) the pipeline up to and including ``until``; returns per-stage timing and status.

    One process owns a run directory: a second run on it stops at once, naming the first one's pid."""
    with DirectoryLock(config.run_dir, purpose="thoughtmill run"):
        return _run_pipeline(config, until=until, force=force, echo=echo)


def _run_pipeline(
    config: PipelineConfig, *, until: str | None, force: Sequence[str], echo: Callable[[str], None]
) -> dict[str, Any]:
    for name in [*force, *([until] if until else [])]:
        if name not in STAGES:
            raise ConfigError(f"unknown stage {name!r}; expected one of {list(STAGES)}")
    config.check_credentials()
    if until is None or STAGE_ORDER.index(until) >= STAGE_ORDER.index("verify"):
        config.check_judges_can_run()
    run = RunDir(config)
    run.write_config()
    executor = make_executor(config.executor.name, **config.executor.options())
    ctx = StageContext(config, run, echo, forced=frozenset(force), executor=executor)
    report: dict[str, Any] = {}
    try:
        _run_stages(ctx, until, report)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        run.heartbeat.failed(ctx.current, exc)
        run.write_summary(
            {
                "status": "interrupted" if interrupted else "failed",
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "stages": report,
                "error": {"stage": ctx.current, "type": type(exc).__name__, "message": str(exc)},
            }
        )
        raise
    finally:
        executor.close()
    run.write_summary(
        {
            "status": "finished",
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "stages": report,
            "error": None,
        }
    )
    run.heartbeat.finished()
    write_report_or_warn(run.root, echo)
    return report


def _run_stages(ctx: StageContext, until: str | None, report: dict[str, Any]) -> None:
    """The stages in order; ``report`` is filled as they finish (a failure leaves what was done)."""
    run, echo = ctx.run, ctx.echo
    token, path = "", None
    for name in STAGE_ORDER:
        ctx.current = name
        marker = run.marker(name)
        reason = "--force" if name in ctx.forced else run.stale_reason(name, token)
        if reason is None:
            assert marker is not None
            echo(f"[{name}] done earlier, skipped")
            run.heartbeat.stage_skipped(name, marker.get("summary", {}).get("rows"))
            token, path = marker["token"], run.resolve(marker.get("dataset"))
            report[name] = {"status": "skipped", "seconds": marker.get("seconds")}
        else:
            echo(f"[{name}] running ({reason})")
            run.heartbeat.stage_started(name, reason)
            report[name] = {"status": "running", "reason": reason}
            started = time.perf_counter()
            ctx.input_token = token
            path, summary = run_stage(STAGES[name](ctx), path)
            release_memory()
            seconds = time.perf_counter() - started
            incomplete = bool(summary.get("incomplete"))
            token = run.mark_done(
                name, summary, seconds, dataset=path, input_token=token, incomplete=incomplete
            )
            run.heartbeat.stage_finished(name, summary.get("rows"), seconds, incomplete)
            echo(
                f"[{name}] finished in {seconds:.1f}s"
                + (" (incomplete: run again to retry)" if incomplete else "")
            )
            report[name] = {
                "status": "incomplete" if incomplete else "ran",
                "seconds": round(seconds, 3),
                "reason": reason,
            }
        if name == until:
            break
    ctx.current = None


def run_stage(stage: Stage, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
    """A stage on its input: in this process, or as shards on the run's executor when the stage is
    shardable and the executor cuts more than one shard."""
    world = stage.ctx.executor.shards if stage.shardable else 1
    if stage.shardable:
        refuse_layout_change_with_batches_out(stage.ctx.run, stage.name, world)
    if world > 1:
        return run_sharded(stage, input_path)
    return stage.run(input_path)


def release_memory() -> None:
    """Hand freed memory back to the system between stages.

    A stage's temporaries are freed when it returns, but Arrow's allocator (mimalloc) and glibc's
    malloc keep freed pages cached for reuse, so without this every later stage would start from the
    previous stage's peak.
    """
    gc.collect()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (musl): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def run_status(run_dir: str | Path) -> list[dict[str, Any]]:
    """Where a run stands: one entry per stage (finished?, when, how long, rows)."""
    from thoughtmill.curation.pipeline.config import load_config

    config = load_config(Path(run_dir))
    run = RunDir(config)
    rows, token = [], ""
    for name in STAGE_ORDER:
        marker = run.marker(name)
        if marker is None:
            state = "not started"
        elif marker.get("incomplete"):
            state = "incomplete"
        elif (reason := run.stale_reason(name, token)) is None:
            state = "done"
        else:
            state = f"stale ({reason})"
        rows.append(
            {
                "stage": name,
                "state": state,
                "finished_at": (marker or {}).get("finished_at"),
                "seconds": (marker or {}).get("seconds"),
                "rows": (marker or {}).get("summary", {}).get("rows"),
            }
        )
        token = (marker or {}).get("token", "")
    return rows
