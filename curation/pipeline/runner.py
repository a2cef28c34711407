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
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.pipeline.config import STAGE_ORDER, PipelineConfig
from thoughtmill.curation.pipeline.generation import GenerateStage
from thoughtmill.curation.pipeline.output import CardStage, WriteStage
from thoughtmill.curation.pipeline.problems import DecontaminateStage, DedupStage, SourcesStage
from thoughtmill.curation.pipeline.rundir import RunDir
from thoughtmill.curation.pipeline.stage import Stage, StageContext
from thoughtmill.curation.pipeline.verification import VerifyStage

STAGES: dict[str, type[Stage]] = {
    cls.name: cls
    for cls in (
        SourcesStage,
        DedupStage,
        DecontaminateStage,
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
    """Run (or resume) the pipeline up to and including ``until``; returns per-stage timing and status."""
    for name in [*force, *([until] if until else [])]:
        if name not in STAGES:
            raise ConfigError(f"unknown stage {name!r}; expected one of {list(STAGES)}")
    run = RunDir(config)
    run.write_config()
    ctx = StageContext(config, run, echo)
    token, path = "", None
    report: dict[str, Any] = {}
    for name in STAGE_ORDER:
        marker = run.marker(name)
        if name not in force and run.is_done(name, token):
            assert marker is not None
            echo(f"[{name}] done earlier, skipped")
            token, path = marker["token"], _path(marker.get("dataset"))
            report[name] = {"status": "skipped", "seconds": marker.get("seconds")}
        else:
            echo(f"[{name}] running")
            started = time.perf_counter()
            path, summary = STAGES[name](ctx).run(path)
            release_memory()
            seconds = time.perf_counter() - started
            incomplete = bool(summary.get("incomplete"))
            token = run.mark_done(
                name, summary, seconds, dataset=path, input_token=token, incomplete=incomplete
            )
            echo(
                f"[{name}] finished in {seconds:.1f}s"
                + (" (incomplete: run again to retry)" if incomplete else "")
            )
            report[name] = {"status": "incomplete" if incomplete else "ran", "seconds": round(seconds, 3)}
        if name == until:
            break
    return report


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


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def run_status(run_dir: str | Path) -> list[dict[str, Any]]:
    """Where a run stands: one entry per stage (finished?, when, how long, rows)."""
    from thoughtmill.curation.pipeline.config import load_config

    config = load_config(Path(run_dir) / "config.yaml")
    run = RunDir(config)
    rows, token = [], ""
    for name in STAGE_ORDER:
        marker = run.marker(name)
        if marker is None:
            state = "not started"
        elif marker.get("incomplete"):
            state = "incomplete"
        elif run.is_done(name, token):
            state = "done"
        else:
            state = "stale (settings or input changed)"
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
