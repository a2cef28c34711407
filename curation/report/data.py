"""What a run report shows, gathered from a run directory: stage summaries, the judged rows, the
progress history. Only plain numbers and strings leave this module, so the figures and the page
never touch the run directory themselves.

Rows are read in Arrow batches, a few columns at a time (lengths are computed with Arrow, never by
holding the texts), so a report on a 100k-row run stays small in memory.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
from thoughtmill.curation.card import stage_table, stage_titles
from thoughtmill.curation.datasets_io import read_batches
from thoughtmill.curation.engine.tokens import CHARS_PER_TOKEN
from thoughtmill.curation.pipeline.config import load_config
from thoughtmill.curation.pipeline.rundir import RunDir
from thoughtmill.curation.pipeline.stage import load_dataset_at

#: samples shown per domain: this many verified rows and this many rejected ones
SAMPLES_PER_KIND = 2
#: characters of a text kept for a sample (the page shows the start of long traces)
SAMPLE_CHARS = 1500

_LENGTH_COLUMNS = ("deepseek_reasoning", "deepseek_solution")
_SAMPLE_COLUMNS = (
    "id",
    "problem",
    "domain",
    "source",
    "deepseek_reasoning",
    "deepseek_solution",
    "verified",
    "verdict",
    "verification_detail",
)


@dataclass
class Lengths:
    """Token lengths of the reasoning and the solution, split by verified / rejected."""

    reasoning: dict[str, list[int]] = field(default_factory=lambda: {"verified": [], "rejected": []})
    solution: dict[str, list[int]] = field(default_factory=lambda: {"verified": [], "rejected": []})
    #: True when the lengths are estimated from characters (the teacher reported no token counts)
    estimated: bool = True


@dataclass
class RunData:
    """Everything the report shows, as plain data."""

    run_dir: Path
    name: str
    status: dict[str, Any]
    #: (stage title, rows) in pipeline order, for the funnel
    funnel: list[tuple[str, int]]
    #: per (domain, source) and per domain: the card's stage table, pass rate included
    table: list[dict[str, Any]]
    #: domain -> verdict -> count
    verdicts: dict[str, dict[str, int]]
    lengths: Lengths
    #: domain -> sample rows (verified first)
    samples: dict[str, list[dict[str, Any]]]
    #: heartbeat records over time (elapsed seconds, rows done, cost), oldest first
    timeline: list[dict[str, Any]]
    cost: dict[str, Any]
    teacher: str | None


def gather(run_dir: str | Path) -> RunData:
    """Read a run directory (finished, interrupted or partial) into :class:`RunData`."""
    config = load_config(Path(run_dir))
    run = RunDir(config)
    summaries = run.summaries()
    table = stage_table(summaries)
    overall = table[-1] if table else {}
    funnel = [(title, int(overall[title])) for title in stage_titles(table) if title != "failed"]
    verdicts = summaries.get("verify", {}).get("verdicts") or {}
    generate = summaries.get("generate") or {}
    lengths, samples = _read_rows(run)
    return RunData(
        run_dir=run.root,
        name=config.name,
        status=_read_json(run.summary_path),
        funnel=funnel,
        table=table,
        verdicts={d: dict(v) for d, v in sorted(verdicts.items())},
        lengths=lengths,
        samples=samples,
        timeline=read_timeline(run),
        cost=_cost(generate.get("engine") or {}),
        teacher=generate.get("teacher"),
    )


def read_timeline(run: RunDir) -> list[dict[str, Any]]:
    """The heartbeat history (``progress.jsonl``), skipping a torn last line."""
    path = run.progress_history_path
    records: list[dict[str, Any]] = []
    if not path.exists():
        return records
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def _cost(engine: dict[str, Any]) -> dict[str, Any]:
    """The generation's cost: every answer at what it cost when bought (older summaries: this run's)."""
    if not engine:
        return {}
    return {
        "total_cost_usd": engine.get("total_cost_usd", engine.get("cost_usd")),
        "this_invocation_usd": engine.get("cost_usd"),
        "output_tokens": (engine.get("completion_tokens") or 0)
        + (engine.get("cached_completion_tokens") or 0),
        "budget_usd": engine.get("budget_usd"),
        "not_sent_budget": engine.get("not_sent_budget"),
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _judged_rows(run: RunDir) -> Any:
    """The verify stage's output (every generated row with its verdict), or None before verify."""
    for stage in ("verify", "generate"):
        marker = run.marker(stage)
        path = run.resolve((marker or {}).get("dataset"))
        if path is not None and path.exists():
            return load_dataset_at(path, what=f"report ({stage} output)")
    return None


def _read_rows(run: RunDir) -> tuple[Lengths, dict[str, list[dict[str, Any]]]]:
    lengths = Lengths()
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ds = _judged_rows(run)
    if ds is None:
        return lengths, {}
    names = set(ds.column_names)
    token_columns = [c for c in ("completion_tokens", "reasoning_tokens") if c in names]
    text_columns = [c for c in _LENGTH_COLUMNS if c in names]
    has_verdict = "verified" in names
    reported = _teacher_reported_tokens(ds, token_columns)
    lengths.estimated = not reported
    wanted = [c for c in _SAMPLE_COLUMNS if c in names]
    taken: dict[tuple[str, str], int] = defaultdict(int)
    for batch in read_batches(ds, columns=sorted({*text_columns, *token_columns, *wanted})):
        table = {name: batch.column(name) for name in batch.schema.names}
        kinds = (
            ["verified" if v else "rejected" for v in table["verified"].to_pylist()]
            if has_verdict
            else ["rejected"] * batch.num_rows
        )
        reasoning, solution = _batch_lengths(table, reported)
        for kind, r, s in zip(kinds, reasoning, solution):
            lengths.reasoning[kind].append(r)
            lengths.solution[kind].append(s)
        domains = table["domain"].to_pylist() if "domain" in table else ["?"] * batch.num_rows
        for i, (domain, kind) in enumerate(zip(domains, kinds)):
            if taken[domain, kind] < SAMPLES_PER_KIND:
                taken[domain, kind] += 1
                samples[domain].append(_sample({n: table[n][i].as_py() for n in wanted}))
    for domain in samples:
        samples[domain].sort(key=lambda row: not row.get("verified"))
    return lengths, dict(sorted(samples.items()))


def _teacher_reported_tokens(ds: Any, token_columns: list[str]) -> bool:
    """Whether the rows carry real token counts (a replay or an old cache may report zeros)."""
    if "completion_tokens" not in token_columns or len(ds) == 0:
        return False
    first = next(read_batches(ds, columns=["completion_tokens"]))
    values = pc.cast(first.column(0), "int64", safe=False)
    return bool(pc.max(values).as_py() or 0)


def _batch_lengths(table: dict[str, Any], reported: bool) -> tuple[list[int], list[int]]:
    """Reasoning and solution lengths in tokens: the teacher's counts, else characters / 3."""
    n = len(next(iter(table.values())))
    chars = {
        name: pc.fill_null(pc.utf8_length(table[name]), 0).to_pylist() if name in table else [0] * n
        for name in _LENGTH_COLUMNS
    }
    reasoning_chars, solution_chars = chars["deepseek_reasoning"], chars["deepseek_solution"]
    if not reported:
        return (
            [math.ceil(c / CHARS_PER_TOKEN) for c in reasoning_chars],
            [math.ceil(c / CHARS_PER_TOKEN) for c in solution_chars],
        )
    completion = pc.cast(table["completion_tokens"], "int64", safe=False).to_pylist()
    reasoning = (
        pc.cast(table["reasoning_tokens"], "int64", safe=False).to_pylist()
        if "reasoning_tokens" in table
        else [0] * n
    )
    out_r, out_s = [], []
    for total, r_tokens, r_chars, s_chars in zip(completion, reasoning, reasoning_chars, solution_chars):
        total = total or 0
        if not r_tokens and total and (r_chars + s_chars):  # no split reported: split by characters
            r_tokens = round(total * r_chars / (r_chars + s_chars))
        out_r.append(r_tokens or 0)
        out_s.append(max(0, total - (r_tokens or 0)))
    return out_r, out_s


def _sample(row: dict[str, Any]) -> dict[str, Any]:
    """One row as shown on the page: long texts cut, the verdict detail parsed when it is JSON."""
    out = dict(row)
    for name in ("problem", "deepseek_reasoning", "deepseek_solution"):
        text = out.get(name) or ""
        out[name] = text if len(text) <= SAMPLE_CHARS else text[:SAMPLE_CHARS] + " […]"
    detail = out.get("verification_detail")
    if isinstance(detail, str):
        with contextlib.suppress(ValueError):
            out["verification_detail"] = json.loads(detail)
    return out
