"""The run report: one self-contained HTML page with plots of what a run did (``thoughtmill report``).

``data`` reads the run directory into plain numbers, ``figures`` turns them into plotly figures,
``page`` lays them out with plotly.js inlined, so the page needs no network when it is viewed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

REPORT_FILE = "report.html"


def write_report(run_dir: str | Path, output: str | Path | None = None) -> Path:
    """Write the report of the run in ``run_dir`` (default: ``RUN_DIR/report.html``); returns its path."""
    from thoughtmill.curation.report.data import gather
    from thoughtmill.curation.report.page import render

    data = gather(run_dir)
    path = Path(output) if output else data.run_dir / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(path)
    return path


def write_report_or_warn(run_dir: str | Path, echo: Callable[[str], None]) -> Path | None:
    """What the pipeline calls at the end of a run: a report that cannot be written is a warning,
    never a failed run (the data is written by then)."""
    try:
        return write_report(run_dir)
    except Exception as exc:  # plotting must not take a finished run down
        logging.getLogger("thoughtmill.report").debug("report failed", exc_info=True)
        echo(
            f"warning: the run report was not written ({type(exc).__name__}: {exc}); "
            f"try again with: thoughtmill report {run_dir}"
        )
        return None


__all__ = ["REPORT_FILE", "write_report", "write_report_or_warn"]
