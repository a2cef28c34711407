"""What a finished (or resumed) run prints: counts per stage and domain, timings, output paths."""

from __future__ import annotations

from typing import Any

import typer
from thoughtmill.curation.card import stage_table, stage_titles
from thoughtmill.curation.pipeline.config import PipelineConfig
from thoughtmill.curation.pipeline.rundir import RunDir
from thoughtmill.curation.report import REPORT_FILE


def print_summary(config: PipelineConfig, report: dict[str, Any]) -> None:
    run = RunDir(config)
    summaries = run.summaries()
    typer.echo("")
    typer.echo("stage timings: " + ", ".join(stage_timing(k, v) for k, v in report.items()))
    rows = [r for r in stage_table(summaries) if r["source"] == "(all)"]
    if rows and summaries.get("sources"):
        stages = stage_titles(rows)
        titles = ["domain", *stages, "pass_rate"]
        typer.echo("  ".join(f"{t:>14}" for t in titles))
        for row in rows:
            cells = [row["domain"], *(row[t] for t in stages)]
            rate = "-" if row["pass_rate"] is None else f"{row['pass_rate']:.1%}"  # as on the card
            typer.echo("  ".join(f"{c!s:>14}" for c in [*cells, rate]))
    write = summaries.get("write") or {}
    typer.echo("")
    typer.echo(f"run directory: {run.root}")
    cost = cost_line((summaries.get("generate") or {}).get("engine") or {})
    if cost:
        typer.echo(cost)
    if write.get("output"):
        out = run.resolve(write["output"])
        typer.echo(f"verified set:  {out}/metadata, {out}/default ({write.get('verified_rows')} rows)")
        typer.echo(f"all rows:      {out}/unverified ({write.get('rows')} rows)")
        typer.echo(f"save_to_disk:  {out}/disk/<layout>")
    card = (summaries.get("card") or {}).get("card")
    if card:
        typer.echo(f"dataset card:  {run.resolve(card)}")
    report_path = run.root / REPORT_FILE
    if report_path.exists():
        typer.echo(f"run report:    {report_path}")


def cost_line(engine: dict[str, Any]) -> str | None:
    """``teacher cost:  $0.4500 for 320 answers (this run $0.1800, 410,000 output tokens)``.

    The total counts every answer the run's dataset holds at what it cost when bought (cached answers
    at their stored usage), so a resumed run shows what the whole run cost, not its last invocation."""
    if not engine:
        return None
    total = engine.get("total_cost_usd", engine.get("cost_usd")) or 0.0
    now = engine.get("cost_usd") or 0.0
    answers = (engine.get("requests_ok") or 0) + (engine.get("cache_hits") or 0)
    tokens = (engine.get("completion_tokens") or 0) + (engine.get("cached_completion_tokens") or 0)
    line = f"teacher cost:  ${total:.4f} for {answers} answers (this invocation ${now:.4f}, {tokens:,} output tokens)"
    if engine.get("cache_adopted"):  # the shard layout changed; those answers were not paid for again
        line += f"; {engine['cache_adopted']} read from another shard layout's cache"
    if engine.get("not_sent_budget"):
        line += f"; budget_usd ${engine.get('budget_usd'):.2f} reached, {engine['not_sent_budget']} not sent"
    return line


def stage_timing(name: str, record: dict[str, Any]) -> str:
    """One stage in the timings line: what it took now, or, when skipped, that nothing ran."""
    if record.get("status") == "skipped":
        took = record.get("seconds")
        return f"{name} done earlier" + (f" (took {took:.1f}s then)" if took else "")
    return f"{name} {record['status']} {record.get('seconds') or 0:.1f}s"
