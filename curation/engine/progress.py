"""One progress model (``RunStats``), many views: a rich live display on a terminal, plain periodic
lines on stderr elsewhere (nohup, Slurm, ``| tee``, notebooks; whatever the logging level), and any
listener (the pipeline's ``progress.json`` heartbeat) called on every tick.

Cost is counted twice over, on purpose: ``cost_usd`` is what this invocation paid; ``cached_cost_usd``
is what the answers served from the cache cost when they were bought (from the usage stored with
each), so ``total_cost_usd`` is what the run's answers cost across every invocation, resumes included.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from thoughtmill.curation.engine.config import Pricing
from thoughtmill.curation.engine.request import Usage

log = logging.getLogger("thoughtmill.engine")

_PLAIN_EVERY_S = 10.0  # a plain progress line off a terminal at most this often
_WIDE = 160  # terminal columns from which the bar and the long labels are drawn


@dataclass
class RunStats:
    """Counters of one engine run; also the body of the summary JSON."""

    total_rows: int | None = None
    rows_done: int = 0
    cache_hits: int = 0
    cache_corrupt: int = 0  # cached answers found damaged: never served, asked again
    cache_adopted: int = 0  # of the cache hits: answers copied from an earlier shard layout's cache
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
    cost_usd: float = 0.0  # paid by this invocation
    cached_cost_usd: float = 0.0  # what the answers served from the cache cost when they were bought
    cached_completion_tokens: int = 0
    in_flight: int = 0  # requests sent and not answered yet
    budget_usd: float | None = None
    not_sent_budget: int = 0  # rows left unsent because the next request would have crossed budget_usd
    started: float = field(default_factory=time.time)
    elapsed_s: float = 0.0
    failure_reasons: dict[str, int] = field(default_factory=dict)

    def add_usage(self, usage: Usage, pricing: Pricing, *, batch: bool = False) -> None:
        """Count one paid answer: its tokens, and its cost (prompt-cache prices; batch price if batched)."""
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.reasoning_tokens += usage.reasoning_tokens
        self.cost_usd += pricing.usage_cost(usage, batch=batch)

    def add_cached_usage(self, usage: Usage, pricing: Pricing, *, batch: bool = False) -> None:
        """Count an answer served from the cache at what it cost when it was bought (``batch``: at the
        batch price)."""
        self.cached_completion_tokens += usage.completion_tokens
        self.cached_cost_usd += pricing.usage_cost(usage, batch=batch)

    @property
    def total_cost_usd(self) -> float:
        """What the run's answers cost across every invocation (cached answers at their stored usage)."""
        return self.cost_usd + self.cached_cost_usd

    def count_failure(self, kind: str) -> None:
        self.failures += 1
        self.failure_reasons[kind] = self.failure_reasons.get(kind, 0) + 1

    def projected_cost(self) -> float | None:
        """The whole run's cost (every invocation) at the mean cost per answered row so far."""
        if not self.total_rows:
            return None
        answered = self.rows_done - self.failures
        if answered <= 0:
            return self.total_cost_usd
        remaining = max(0, self.total_rows - self.rows_done)
        return self.total_cost_usd + self.total_cost_usd / answered * remaining

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["total_cost_usd"] = self.total_cost_usd
        data["projected_cost_usd"] = self.projected_cost()
        elapsed = max(self.elapsed_s, 1e-9)
        data["rows_per_s"] = self.rows_done / elapsed
        data["requests_per_s"] = self.requests_ok / elapsed
        data["completion_tokens_per_s"] = self.completion_tokens / elapsed
        return data


def usd(amount: float) -> str:
    """Dollars as people read them: cents from a dollar up, four decimals below (a demo costs $0.0067)."""
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"


Listener = Callable[[RunStats], None]  # told the counters on every tick


class Progress:
    """Shows a RunStats as it changes: rich on a terminal, plain lines elsewhere; tells ``listener``."""

    def __init__(
        self, stats: RunStats, label: str, enabled: bool = True, listener: Listener | None = None
    ) -> None:
        self.stats = stats
        self.label = label
        self.enabled = enabled
        self.listener = listener
        self._live = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._start = time.monotonic()
        self._last_line = self._start

    def __enter__(self) -> Progress:
        if self._live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress
            from rich.table import Column

            console = Console(stderr=True)
            wide = console.width >= _WIDE
            columns = [TextColumn("[bold]{task.description}")]
            if wide:  # narrower terminals lose the bar and the long labels, never a number
                columns.append(BarColumn(bar_width=20))
            # what still does not fit wraps onto a second line instead of being cut
            info = TextColumn("{task.fields[info]}", table_column=Column(overflow="fold"))
            columns += [MofNCompleteColumn(), TimeRemainingColumn(), info]
            self._compact = not wide
            self._bar = RichProgress(*columns, console=console, transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.stats.total_rows, info="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.update(force=True)
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def info(self, compact: bool = False) -> str:
        """Every counter of the run in one line (``compact``: shorter labels, same numbers)."""
        s = self.stats
        elapsed = max(time.monotonic() - self._start, 1e-9)
        projected = s.projected_cost()
        cost = usd(s.total_cost_usd)
        if projected is not None and s.total_cost_usd > 0:
            cost += f" (~{usd(projected)} total)"
        if s.budget_usd is not None:
            cost += f" of {usd(s.budget_usd)} cap"
        labels = (
            ("cached", "in flight", "retries", "429s", "failed", "tok/s")
            if not compact
            else ("c", "fly", "rt", "429", "x", "t/s")
        )
        values = (s.cache_hits, s.in_flight, s.retries, s.rate_limited, s.failures)
        parts = [f"{label} {value}" for label, value in zip(labels, values)]
        parts.append(f"{s.requests_ok / elapsed:.1f} req/s")
        parts.append(f"{s.completion_tokens / elapsed:.0f} {labels[5]}")
        parts.append(cost)
        return (" " if compact else " | ").join(parts)

    def line(self) -> str:
        """The plain view: ``generate: 120/320 rows (38%) | ETA 310s | cached 20 | ... | $0.17``."""
        s, now = self.stats, time.monotonic()
        text = f"{self.label}: {s.rows_done}"
        if s.total_rows:
            text += f"/{s.total_rows} rows ({s.rows_done / s.total_rows:.0%})"
            if s.rows_done:
                rate = s.rows_done / max(now - self._start, 1e-9)
                text += f" | ETA {(s.total_rows - s.rows_done) / rate:.0f}s"
        else:
            text += " rows"
        return f"{text} | {self.info()}"

    def update(self, force: bool = False) -> None:
        if self.listener is not None:
            self.listener(self.stats)
        if not self.enabled:
            return
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.stats.rows_done, info=self.info(self._compact))
        elif force or now - self._last_line >= _PLAIN_EVERY_S:
            self._last_line = now
            if log.isEnabledFor(logging.INFO):  # the application logs progress: one place for its lines
                log.info(self.line())
            else:  # whatever the logging level, progress is shown
                print(self.line(), file=sys.stderr, flush=True)
