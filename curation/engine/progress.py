"""Live progress and cost: a rich bar on a terminal, plain log lines elsewhere, a summary at the end."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from thoughtmill.curation.engine.config import Pricing
from thoughtmill.curation.engine.request import Usage

log = logging.getLogger("thoughtmill.engine")

_LOG_EVERY_S = 10.0


@dataclass
class RunStats:
    """Counters of one engine run; also the body of the summary JSON."""

    total_rows: int | None = None
    rows_done: int = 0
    cache_hits: int = 0
    cache_corrupt: int = 0  # cached answers found damaged: never served, asked again
    requests_sent: int = 0
    requests_ok: int = 0
    retries: int = 0
    failures: int = 0
    length_truncated: int = 0
    rate_limited: int = 0
    output_rows: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    started: float = field(default_factory=time.time)
    elapsed_s: float = 0.0
    failure_reasons: dict[str, int] = field(default_factory=dict)

    def add_usage(self, usage: Usage, pricing: Pricing, *, batch: bool = False) -> None:
        """Count one paid answer: its tokens, and its cost (prompt-cache prices; batch price if batched)."""
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.reasoning_tokens += usage.reasoning_tokens
        self.cost_usd += pricing.usage_cost(usage, batch=batch)

    def count_failure(self, kind: str) -> None:
        self.failures += 1
        self.failure_reasons[kind] = self.failure_reasons.get(kind, 0) + 1

    def projected_cost(self) -> float | None:
        """Cost of the whole run at the rate paid so far per generated (non-cached) row."""
        if not self.total_rows:
            return None
        generated = self.rows_done - self.cache_hits
        if generated <= 0:
            return self.cost_usd
        remaining = max(0, self.total_rows - self.rows_done)
        return self.cost_usd + self.cost_usd / generated * remaining

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["projected_cost_usd"] = self.projected_cost()
        elapsed = max(self.elapsed_s, 1e-9)
        data["rows_per_s"] = self.rows_done / elapsed
        data["requests_per_s"] = self.requests_ok / elapsed
        data["completion_tokens_per_s"] = self.completion_tokens / elapsed
        return data


class Progress:
    """Shows a RunStats as it changes; degrades to periodic log lines when not on a terminal."""

    def __init__(self, stats: RunStats, label: str, enabled: bool = True) -> None:
        self.stats = stats
        self.label = label
        self.enabled = enabled
        self._live = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._start = time.monotonic()
        self._last_log = self._start

    def __enter__(self) -> Progress:
        if self._live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.stats.total_rows, info="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.update(force=True)
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def info(self) -> str:
        s = self.stats
        elapsed = max(time.monotonic() - self._start, 1e-9)
        parts = [
            f"hits {s.cache_hits}",
            f"{s.requests_ok / elapsed:.1f} req/s",
            f"{s.completion_tokens / elapsed:.0f} tok/s",
            f"fail {s.failures}",
            f"${s.cost_usd:.4f}",
        ]
        projected = s.projected_cost()
        if projected is not None and s.cost_usd > 0:
            parts.append(f"(~${projected:.2f} total)")
        return " | ".join(parts)

    def update(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.stats.rows_done, info=self.info())
        elif force or now - self._last_log >= _LOG_EVERY_S:
            self._last_log = now
            total = f"/{self.stats.total_rows}" if self.stats.total_rows else ""
            eta = ""
            if self.stats.total_rows and self.stats.rows_done:
                rate = self.stats.rows_done / max(now - self._start, 1e-9)
                eta = f" | ETA {(self.stats.total_rows - self.stats.rows_done) / rate:.0f}s"
            log.info("%s: %d%s rows | %s%s", self.label, self.stats.rows_done, total, self.info(), eta)
