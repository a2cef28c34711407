"""Results files in Evalchemy's layout, and the summary table printed after a run.

``<output>/<model>/results_<ISO timestamp with - for :>.json`` holding ``results`` (one entry per task,
the keys each Evalchemy task writes), ``config``, ``git_hash``, ``date`` (epoch seconds), the timing
fields of lm-eval's config tracker, and ``versions`` of everything that can move a number.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

_UNSAFE = re.compile(r"[\"<>:/|\\?*\[\]]+")


def sanitize_model_name(name: str) -> str:
    """Folder name for a model id: path separators and shell-unsafe runs become ``__``."""
    return _UNSAFE.sub("__", name.strip()) or "model"


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that can change generations or scores."""
    versions: dict[str, str | None] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in ("thoughtmill", "datasets", "math-verify", "vllm", "transformers", "torch", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_hash() -> str | None:
    """The commit of the thoughtmill checkout, when there is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def build_results(
    task_results: dict[str, dict[str, Any]],
    *,
    model_name: str,
    config: dict[str, Any],
    start_time: float,
    end_time: float | None = None,
) -> dict[str, Any]:
    """The whole results document."""
    end = end_time if end_time is not None else time.time()
    return {
        "results": task_results,
        "config": config,
        "git_hash": git_hash(),
        "date": end,
        "model_name": model_name,
        "model_name_sanitized": sanitize_model_name(model_name),
        "start_time": start_time,
        "end_time": end,
        "total_evaluation_time_seconds": str(end - start_time),
        "versions": package_versions(),
        "evaluator": "thoughtmill",
    }


def write_results(results: dict[str, Any], output_dir: str | Path) -> Path:
    """Write ``results_<timestamp>.json`` under ``<output>/<model>/`` and return its path."""
    folder = Path(output_dir) / results["model_name_sanitized"]
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().isoformat().replace(":", "-")
    path = folder / f"results_{stamp}.json"
    while path.exists():  # two runs in the same microsecond would overwrite each other
        stamp += "_"
        path = folder / f"results_{stamp}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def headline(task_result: dict[str, Any]) -> tuple[float | None, float | None]:
    """(accuracy, standard error) of one task, whichever layout it uses."""
    if "accuracy_avg" in task_result:
        return task_result["accuracy_avg"], task_result.get("accuracy_std_err")
    return task_result.get("accuracy"), None


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(task, metric, value, ± std err, n) rows: headline per task, then Math-Verify and difficulties."""
    rows = []
    for task, res in results["results"].items():
        acc, err = headline(res)
        n = str(res.get("num_total", ""))
        repeats = res.get("num_repeat", 1)
        rows.append((task, f"accuracy ({repeats}x)", _pct(acc), _pct(err), n))
        mv = res.get("math_verify")
        if mv:
            mv_acc = mv.get("accuracy_avg", mv.get("accuracy"))
            rows.append((task, "math-verify", _pct(mv_acc), _pct(mv.get("accuracy_std_err")), n))
        for key in sorted(k for k in res if k.startswith("accuracy_") and k.endswith("_avg") and k != "accuracy_avg"):
            difficulty = key[len("accuracy_") : -len("_avg")]
            rows.append((task, difficulty, _pct(res[key]), _pct(res.get(f"accuracy_{difficulty}_std_err")), ""))
    return rows


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def print_summary(results: dict[str, Any], console: Any = None) -> None:
    """Print the summary table (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=f"thoughtmill eval — {results['model_name']}")
    for column in ("Task", "Metric", "Value (%)", "± Std err", "N"):
        table.add_column(column, justify="left" if column in ("Task", "Metric") else "right")
    for row in summary_rows(results):
        table.add_row(*row)
    console.print(table)
