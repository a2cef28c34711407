"""What a call tells its caller about rows it lost: a warning line always, an error when asked.

A run that lost rows still returns the rows it has (every answer paid for is kept); the warning
names how many failed, why, and the file that lists each one. ``require_all`` / ``max_failure_rate``
turn that into an :class:`IncompleteRun` error, raised after the answered rows are written.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from thoughtmill.curation.engine.progress import RunStats
from thoughtmill.curation.errors import CurationError

log = logging.getLogger("thoughtmill.engine")


class IncompleteRun(CurationError):
    """More rows failed than the caller accepts; ``dataset`` holds the rows that were answered."""

    def __init__(self, message: str, dataset: Any) -> None:
        super().__init__(message)
        self.dataset = dataset


def failure_line(label: str, stats: RunStats, failures_file: Path) -> str | None:
    """One line on the rows a run lost, or None when it lost none."""
    if not stats.failures:
        return None
    processed = max(stats.rows_done, stats.failures)
    reasons = ", ".join(f"{kind}: {count}" for kind, count in sorted(stats.failure_reasons.items()))
    return (
        f"{label}: {stats.failures} of {processed} rows failed ({stats.failures / processed:.0%}) and are "
        f"not in the result ({reasons}); each is listed in {failures_file}; a re-run asks again for those "
        "rows only"
    )


def check_max_failure_rate(value: float | None) -> float | None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"max_failure_rate must be a fraction between 0 and 1, got {value}")
    return value


def report_failures(
    label: str,
    stats: RunStats,
    failures_file: Path,
    dataset: Any,
    dataset_dir: Path,
    *,
    require_all: bool,
    max_failure_rate: float | None,
) -> None:
    """Warn about lost rows; raise :class:`IncompleteRun` if they exceed what the caller accepts."""
    line = failure_line(label, stats, failures_file)
    if line is None:
        return
    log.warning(line)
    rate = stats.failures / max(stats.rows_done, stats.failures)
    kept = f"the {len(dataset)} answered rows are saved in {dataset_dir} (and on this error's .dataset)"
    if require_all:
        raise IncompleteRun(f"{line} (require_all=True); {kept}", dataset)
    if max_failure_rate is not None and rate > max_failure_rate:
        raise IncompleteRun(f"{line} (max_failure_rate={max_failure_rate:g}); {kept}", dataset)
