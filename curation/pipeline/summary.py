"""What a finished (or resumed) run prints: counts per stage and domain, timings, output paths."""

from __future__ import annotations

from typing import Any

import typer
from thoughtmill.curation.card import STAGE_COLUMNS, stage_table
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
        titles = ["domain", *(t for t, *_ in STAGE_COLUMNS), "pass_rate"]
        typer.echo("  ".join(f"{t:>14}" for t in titles))
        for row in rows:
            cells = [row["domain"], *(row[t] for t, *_ in STAGE_COLUMNS)]
            rate = "-" if row["pass_rate"] is None else f"{row['pass_rate']:.1%}"  # as on the card
            typer.echo("  ".join(f"{c!s:>14}" for c in [*cells, rate]))
    write = summaries.get("write") or {}
    typer.echo("")
    typer.echo(f"run directory: {run.root}")
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


def stage_timing(name: str, record: dict[str, Any]) -> str:
    """One stage in the timings line: what it took now, or, when skipped, that nothing ran."""
    if record.get("status") == "skipped":
        took = record.get("seconds")
        return f"{name} done earlier" + (f" (took {took:.1f}s then)" if took else "")
    return f"{name} {record['status']} {record.get('seconds') or 0:.1f}s"
