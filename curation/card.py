"""The dataset card (README.md in the output): what went in, what each stage kept, what was verified.

Built only from the stage summaries in the run directory, so it can be rebuilt at any time
(``thoughtmill export``) without touching the data.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Card columns, in pipeline order: (title, stage summary, key in that summary).
STAGE_COLUMNS = (
    ("sourced", "sources", "counts"),
    ("deduplicated", "dedup", "counts"),
    ("decontaminated", "decontaminate", "counts"),
    ("generated", "generate", "counts"),
    ("failed", "generate", "failed"),
    ("verified", "verify", "counts"),
)


def stage_table(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (domain, source) plus per-domain and overall totals: counts at every stage."""
    groups: set[tuple[str, str]] = set()
    for _, stage, key in STAGE_COLUMNS:
        for domain, per_source in (summaries.get(stage, {}).get(key) or {}).items():
            groups.update((domain, source) for source in per_source)

    def count(stage: str, key: str, domain: str, source: str | None) -> int:
        per = (summaries.get(stage, {}).get(key) or {}).get(domain, {})
        return sum(per.values()) if source is None else int(per.get(source, 0))

    rows: list[dict[str, Any]] = []
    domains = sorted({d for d, _ in groups})
    for domain in domains:
        for source in [*sorted(s for d, s in groups if d == domain), None]:
            row = {"domain": domain, "source": source or "(all)"}
            for title, stage, key in STAGE_COLUMNS:
                row[title] = count(stage, key, domain, source)
            rows.append(row)
    overall = {"domain": "(all)", "source": "(all)"}
    for title, *_ in STAGE_COLUMNS:
        overall[title] = sum(r[title] for r in rows if r["source"] == "(all)")
    rows.append(overall)
    for row in rows:
        row["pass_rate"] = row["verified"] / row["generated"] if row["generated"] else None
    return rows


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    titles = ["domain", "source", *(t for t, *_ in STAGE_COLUMNS), "pass_rate"]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for row in rows:
        cells = []
        for t in titles:
            value = row[t]
            cells.append("-" if value is None else f"{value:.1%}" if t == "pass_rate" else str(value))
        if row["source"] == "(all)":
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _filters_table(per_source: dict[str, Any]) -> str:
    lines = ["| source | read | dropped by filter | kept |", "|---|---|---|---|"]
    for name, record in per_source.items():
        dropped = ", ".join(f"{k}: {v}" for k, v in sorted(record.get("dropped", {}).items())) or "-"
        lines.append(f"| {name} | {record.get('read', '-')} | {dropped} | {record.get('kept', '-')} |")
    return "\n".join(lines)


def render_card(name: str, summaries: dict[str, dict[str, Any]], *, title: str | None = None) -> str:
    """The README.md text: Hub front matter (configs), the per-stage table, filters, verdicts."""
    front = {
        "configs": [
            {"config_name": "default", "data_files": [{"split": "train", "path": "default/*.parquet"}], "default": True},
            {"config_name": "metadata", "data_files": [{"split": "train", "path": "metadata/*.parquet"}]},
            {"config_name": "unverified", "data_files": [{"split": "train", "path": "unverified/*.parquet"}]},
        ],
        "tags": ["reasoning", "synthetic", "thoughtmill"],
    }
    gen = summaries.get("generate", {})
    engine = gen.get("engine", {})
    dedup = summaries.get("dedup", {}).get("stats", {})
    decon = summaries.get("decontaminate", {}).get("stats", {})
    verify = summaries.get("verify", {})
    parts = [
        "---\n" + yaml.safe_dump(front, sort_keys=False) + "---",
        f"# {title or name}",
        "Reasoning traces generated and verified by thoughtmill (the OpenThoughts recipe).",
        f"Teacher: `{gen.get('model', '?')}`. Layouts: `default` (system + conversations, the training "
        "format), `metadata` (problem, ground truth, tests, reasoning and solution per row), `unverified` "
        "(every generated row with its verdict).",
        "## Counts at every stage\n\n" + _markdown_table(stage_table(summaries)),
        "pass_rate = verified / generated. failed = problems whose teacher request failed (see "
        "`generate/engine/failures.jsonl` in the run directory).",
    ]
    if summaries.get("sources", {}).get("per_source"):
        parts.append("## Source filters\n\n" + _filters_table(summaries["sources"]["per_source"]))
    if dedup:
        parts.append(
            f"## Deduplication\n\nexact duplicates: {dedup.get('exact_duplicates', 0)}, near duplicates: "
            f"{dedup.get('near_duplicates', 0)} (fuzzy ratio), kept {dedup.get('kept', 0)} of {dedup.get('input', 0)}."
        )
    if decon:
        by = ", ".join(f"{k}: {v}" for k, v in decon.get("by_benchmark", {}).items()) or "none"
        parts.append(
            f"## Decontamination\n\nmethod {decon.get('method')}: dropped {decon.get('dropped', 0)} "
            f"(per benchmark: {by})."
        )
    if verify.get("verdicts"):
        lines = ["| domain | verdicts | decided by |", "|---|---|---|"]
        for domain, verdicts in verify["verdicts"].items():
            methods = verify.get("methods", {}).get(domain, {})
            lines.append(
                f"| {domain} | {', '.join(f'{k}: {v}' for k, v in sorted(verdicts.items()))} | "
                f"{', '.join(f'{k}: {v}' for k, v in sorted(methods.items()))} |"
            )
        parts.append("## Verification\n\n" + "\n".join(lines))
    if engine:
        parts.append(
            f"## Generation\n\nrequests sent: {engine.get('requests_sent', 0)}, answered from cache: "
            f"{engine.get('cache_hits', 0)}, prompt tokens: {engine.get('prompt_tokens', 0)}, completion "
            f"tokens: {engine.get('completion_tokens', 0)}, cost: ${engine.get('cost_usd', 0.0):.2f}."
        )
    return "\n\n".join(parts) + "\n"
