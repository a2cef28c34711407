"""``thoughtmill status``: where a run stands, from its markers, its heartbeat and its engine summaries.

The markers say which stages finished; the heartbeat (``progress.json``) says what is running now, or
what was running when the process died; an engine summary left by an interrupted generation says
how many answers are already paid for and cached (a re-run reuses them), even without a heartbeat.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from thoughtmill.curation.pipeline.config import load_config
from thoughtmill.curation.pipeline.heartbeat import PROGRESS_FILE, read_progress
from thoughtmill.curation.pipeline.rundir import RunDir
from thoughtmill.curation.pipeline.runner import run_status


def status_view(run_dir: str | Path) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready data: ``run`` (heartbeat), ``stages``, ``cost_usd``."""
    run = RunDir(load_config(Path(run_dir)))
    progress = read_progress(run.root)
    live = (progress or {}).get("stages", {})
    stages = []
    cost = 0.0
    alive = bool(progress and progress.get("alive"))
    for row in run_status(run_dir):
        name = row["stage"]
        beat = live.get(name, {})
        engine = engine_totals(run, name)
        entry = {**row, "done": beat.get("done"), "total": beat.get("total"), "eta_s": beat.get("eta_s")}
        for key in ("in_flight", "retries", "rate_limited", "failures", "cache_hits"):
            if beat.get(key) is not None:
                entry[key] = beat[key]
        shards = shard_progress(run, name)
        if shards and entry["done"] is None:  # a sharded stage: its shards beat in their own folders
            entry.update(shards)
            beat = {**beat, "cost_usd": shards["cost_usd"]}
        if row["state"] == "not started":
            entry["state"] = _unfinished_state(beat.get("state"), alive, bool(engine))
        stage_cost = beat.get("total_cost_usd", beat.get("cost_usd")) or 0.0
        if engine:
            stage_cost = max(stage_cost, engine.get("total_cost_usd", engine.get("cost_usd")) or 0.0)
            entry["answered"] = engine.get("rows_done")
            entry.setdefault("failures", engine.get("failures"))
            if entry["done"] is None:
                entry["done"], entry["total"] = engine.get("rows_done"), engine.get("total_rows")
        if stage_cost:
            entry["cost_usd"] = stage_cost
            cost += stage_cost
        stages.append(entry)
    return {"run_dir": str(run.root), "run": progress, "stages": stages, "cost_usd": round(cost, 6)}


def shard_progress(run: RunDir, stage: str) -> dict[str, Any] | None:
    """A sharded stage's progress: its shards' heartbeats (``<stage>/shards/*/progress.json``) added up."""
    totals: dict[str, Any] = {"done": 0, "total": 0, "cost_usd": 0.0, "shards": 0, "shards_running": 0}
    for path in sorted((run.stage_dir(stage) / "shards").glob(f"*/{PROGRESS_FILE}")):
        state = read_progress(path.parent)
        if state is None:
            continue
        part = state.get("stages", {}).get(stage) or {}
        done, total = int(part.get("done") or 0), int(part.get("total") or 0)
        busy = state.get("status") == "running" and state.get("alive") and (not total or done < total)
        totals["shards"] += 1
        totals["shards_running"] += int(bool(busy))
        totals["done"] += done
        totals["total"] += total
        totals["cost_usd"] += float(part.get("total_cost_usd", part.get("cost_usd")) or 0.0)
    return totals if totals["shards"] else None


def _unfinished_state(beat_state: str | None, alive: bool, has_engine_work: bool) -> str:
    """A stage with no marker: running (its process is alive), interrupted or failed, or not started."""
    if beat_state == "running":
        return "running" if alive else "interrupted"
    if beat_state in ("failed", "interrupted"):
        return beat_state
    return "interrupted" if has_engine_work else "not started"


def engine_totals(run: RunDir, stage: str) -> dict[str, Any]:
    """The engine summaries under a stage's folder, added up (answers paid for, cost, failures)."""
    totals: dict[str, Any] = {}
    folder = run.stage_dir(stage)
    if not folder.is_dir():
        return totals
    for path in sorted(folder.rglob("summary.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or "rows_done" not in data:
            continue
        for key in ("rows_done", "total_rows", "failures", "cost_usd", "total_cost_usd", "completion_tokens"):
            if isinstance(data.get(key), (int, float)):
                totals[key] = totals.get(key, 0) + data[key]
    return totals


def format_status(view: dict[str, Any], now: float | None = None) -> list[str]:
    """The lines ``thoughtmill status`` prints."""
    now = time.time() if now is None else now
    lines = []
    beat = view.get("run")
    if beat:
        ago = _duration(now - (beat.get("updated_at") or now))
        who = f"pid {beat.get('pid')} on {beat.get('host')}"
        if beat.get("status") == "running":
            lines.append(f"run: running ({who}, last heartbeat {ago} ago)")
        else:
            lines.append(f"run: {beat.get('status')} ({who}, {ago} ago)")
    lines.append(f"cost so far: ${view.get('cost_usd') or 0:.4f}")
    for stage in view["stages"]:
        lines.append(_stage_line(stage))
    error = (beat or {}).get("last_error")
    if error:
        lines.append(f"last error ({error.get('stage')}): {error.get('type')}: {error.get('message')}")
    return lines


def _stage_line(stage: dict[str, Any]) -> str:
    state = stage["state"]
    parts = []
    done, total = stage.get("done"), stage.get("total")
    if state in ("running", "interrupted", "failed") and done is not None:
        share = f" ({done / total:.0%})" if total else ""
        parts.append(f"{done}/{total if total else '?'} rows{share}")
        if state == "running" and stage.get("eta_s") is not None:
            parts.append(f"ETA {_duration(stage['eta_s'])}")
        if stage.get("answered") and state != "running":
            parts.append(f"{stage['answered']} answers paid for and cached: a re-run reuses them")
    elif stage.get("finished_at"):
        rows = stage.get("rows")
        parts.append(f"{rows} rows" if rows is not None else "no row count")
        parts.append(f"{stage.get('seconds') or 0:.1f}s")
        parts.append(str(stage["finished_at"]))
    if stage.get("shards"):
        parts.append(f"{stage['shards']} shard(s) started, {stage['shards_running']} running")
    if state == "running" and stage.get("in_flight"):
        parts.append(f"{stage['in_flight']} in flight")
    for key, label in (("retries", "retries"), ("rate_limited", "429s"), ("failures", "failed")):
        if stage.get(key):
            parts.append(f"{stage[key]} {label}")
    if stage.get("cost_usd"):
        parts.append(f"${stage['cost_usd']:.4f}")
    return f"{stage['stage']:<14}{state:<14}" + ", ".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
