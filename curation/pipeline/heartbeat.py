"""The run's heartbeat: ``RUN_DIR/progress.json`` says where a run is now, ``progress.jsonl`` where it was.

The running stage reports ``done / total`` (and, for generation, the engine's counters: cost, in
flight, retries, rate limits, failures); the heartbeat writes the state at most every ``every_s``
seconds and at every stage change, atomically, so ``thoughtmill status`` (another process) always
reads a whole file. The pid in it tells a live run from one that died: a run whose process is gone
while its state says "running" was killed (SIGKILL, a node lost) and is shown as interrupted.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from thoughtmill.curation.engine.dirlock import pid_alive
from thoughtmill.curation.pipeline.atomic import atomic_write

PROGRESS_FILE = "progress.json"
HISTORY_FILE = "progress.jsonl"

#: engine counters copied into a stage's state (see ``RunStats``)
ENGINE_FIELDS = (
    "cache_hits",
    "requests_sent",
    "retries",
    "rate_limited",
    "failures",
    "in_flight",
    "completion_tokens",
    "cost_usd",
    "total_cost_usd",
    "projected_cost_usd",
    "budget_usd",
)


#: seconds between two writes of progress.json (and between two plain progress lines: 5x that)
EVERY_S_ENV = "THOUGHTMILL_HEARTBEAT_S"


def heartbeat_interval() -> float:
    """The heartbeat's period: 2 seconds, or ``$THOUGHTMILL_HEARTBEAT_S``."""
    try:
        return max(0.0, float(os.environ.get(EVERY_S_ENV, "2")))
    except ValueError:
        return 2.0


class Heartbeat:
    """Keeps and writes one run's progress state."""

    def __init__(
        self, root: Path, *, every_s: float | None = None, print_every_s: float | None = None
    ) -> None:
        self.root = Path(root)
        self.every_s = heartbeat_interval() if every_s is None else every_s
        self.print_every_s = 5 * self.every_s if print_every_s is None else print_every_s
        self._last_write = 0.0
        self._last_print: dict[str, float] = {}
        self._rate_mark: dict[str, tuple[float, int]] = {}
        now = time.time()
        self.state: dict[str, Any] = {
            "status": "running",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": now,
            "updated_at": now,
            "current": None,
            "cost_usd": 0.0,
            "last_error": None,
            "stages": {},
        }

    # ------------------------------------------------------------------ what stages report
    def stage_started(self, name: str, reason: str) -> None:
        self.state["current"] = name
        self.state["stages"][name] = {"state": "running", "reason": reason, "started_at": time.time()}
        self.write(force=True)

    def stage_skipped(self, name: str, rows: int | None) -> None:
        self.state["stages"][name] = {"state": "skipped", "done": rows, "total": rows}
        self.write(force=True)

    def stage_progress(
        self, name: str, done: int, total: int | None = None, *, announce: bool = True, **extra: Any
    ) -> None:
        """A stage's count so far; written when ``every_s`` has passed since the last write.

        With ``announce`` a plain line goes to stderr every ``print_every_s`` seconds, whatever the
        logging level (a stage with its own live view, generation, passes False)."""
        now = time.time()
        stage = self.state["stages"].setdefault(name, {"state": "running", "started_at": now})
        stage.update({"done": done, "total": total, **extra})
        stage["eta_s"] = _eta(stage, now)
        if announce and now - self._last_print.setdefault(name, now) >= self.print_every_s:
            self._last_print[name] = now
            print(progress_line(name, stage), file=sys.stderr, flush=True)
        self.state["cost_usd"] = round(
            sum(s.get("total_cost_usd") or s.get("cost_usd") or 0.0 for s in self.state["stages"].values()), 6
        )
        self.write()

    def engine_listener(self, name: str) -> Any:
        """A callback for the engine's progress ticks: its counters become the stage's state."""

        def listen(stats: Any) -> None:
            data = stats.to_dict() if hasattr(stats, "to_dict") else dict(stats)
            extra = {k: data[k] for k in ENGINE_FIELDS if data.get(k) is not None}
            done, total = int(data.get("rows_done") or 0), data.get("total_rows")
            self.stage_progress(name, done, total, announce=False, **extra)

        return listen

    def stage_finished(self, name: str, rows: int | None, seconds: float, incomplete: bool) -> None:
        stage = self.state["stages"].setdefault(name, {})
        stage.update({"state": "incomplete" if incomplete else "done", "seconds": round(seconds, 3)})
        if rows is not None:
            stage["done"] = rows
            stage.setdefault("total", rows)
        stage["eta_s"] = None
        self.write(force=True)

    def failed(self, stage: str | None, exc: BaseException) -> None:
        interrupted = isinstance(exc, KeyboardInterrupt)
        self.state["status"] = "interrupted" if interrupted else "failed"
        self.state["last_error"] = {"stage": stage, "type": type(exc).__name__, "message": str(exc)[:2000]}
        if stage and stage in self.state["stages"]:
            self.state["stages"][stage]["state"] = self.state["status"]
        self.write(force=True)

    def finished(self) -> None:
        self.state["status"] = "finished"
        self.state["current"] = None
        self.write(force=True)

    # ------------------------------------------------------------------ the files
    def write(self, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last_write < self.every_s:
            return
        self._last_write = now
        self.state["updated_at"] = now
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.root / PROGRESS_FILE, json.dumps(self.state, indent=1, default=str))
        with open(self.root / HISTORY_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(self._history_record(now), default=str) + "\n")

    def _history_record(self, now: float) -> dict[str, Any]:
        name = self.state["current"]
        stage = self.state["stages"].get(name or "", {})
        done = int(stage.get("done") or 0)
        then, before = self._rate_mark.get(name or "", (self.state["started_at"], 0))
        rate = (done - before) / (now - then) if now > then and done >= before else 0.0
        self._rate_mark[name or ""] = (now, done)
        return {
            "t": round(now, 3),
            "elapsed_s": round(now - self.state["started_at"], 3),
            "stage": name,
            "done": done,
            "total": stage.get("total"),
            "rows_per_s": round(rate, 3),
            "cost_usd": self.state["cost_usd"],
            "status": self.state["status"],
        }


def progress_line(name: str, stage: dict[str, Any]) -> str:
    """``[verify] 1200/36000 rows (3%), ETA 5m12s``: the plain view of one stage's progress."""
    done, total = stage.get("done") or 0, stage.get("total")
    unit = stage.get("unit", "rows")
    text = f"[{name}] {done}/{total} {unit} ({done / total:.0%})" if total else f"[{name}] {done} {unit}"
    if stage.get("eta_s") is not None:
        text += f", ETA {stage['eta_s']:.0f}s"
    return text


def _eta(stage: dict[str, Any], now: float) -> float | None:
    done, total, started = stage.get("done") or 0, stage.get("total"), stage.get("started_at")
    if not total or not done or not started or done >= total:
        return None
    return round((total - done) * (now - started) / done, 1)


def read_progress(root: Path) -> dict[str, Any] | None:
    """The latest heartbeat, with ``alive`` saying whether its process still runs (None: no heartbeat).

    A heartbeat that says "running" whose process is gone is reported as "interrupted"."""
    try:
        state = json.loads((Path(root) / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    alive = state.get("host") == socket.gethostname() and pid_alive(state.get("pid"))
    state["alive"] = alive
    if state.get("status") == "running" and not alive and state.get("host") == socket.gethostname():
        state["status"] = "interrupted"
        state["last_error"] = state.get("last_error") or {
            "stage": state.get("current"),
            "type": "ProcessGone",
            "message": f"process {state.get('pid')} ended without saying why (killed?)",
        }
    return state
