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

#: Columns of the question-selection stages, shown where the run enabled them (between decontaminated
#: and generated): (title, stage summary, key in that summary).
SELECTION_COLUMNS = (
    ("mixed", "mix", "counts"),
    ("difficulty_kept", "difficulty", "counts"),
    ("length_kept", "response_length", "counts"),
)


def stage_columns(summaries: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The card's columns for this run: every stage of ``STAGE_COLUMNS`` plus the enabled selections."""
    chosen = [c for c in SELECTION_COLUMNS if summaries.get(c[1], {}).get("enabled")]
    return [*STAGE_COLUMNS[:3], *chosen, *STAGE_COLUMNS[3:]]


def stage_table(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (domain, source) plus per-domain and overall totals: counts at every stage."""
    columns = stage_columns(summaries)
    groups: set[tuple[str, str]] = set()
    for _, stage, key in columns:
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
            for title, stage, key in columns:
                row[title] = count(stage, key, domain, source)
            rows.append(row)
    overall = {"domain": "(all)", "source": "(all)"}
    for title, *_ in columns:
        overall[title] = sum(r[title] for r in rows if r["source"] == "(all)")
    rows.append(overall)
    for row in rows:
        row["pass_rate"] = row["verified"] / row["generated"] if row["generated"] else None
    return rows


def stage_titles(table: list[dict[str, Any]]) -> list[str]:
    """The stage columns of a :func:`stage_table`, in pipeline order (selection stages included)."""
    return [k for k in table[0] if k not in ("domain", "source", "pass_rate")] if table else []


def _markdown_table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    titles = ["domain", "source", *(t for t, *_ in columns), "pass_rate"]
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


def samples_per_question(generate: dict[str, Any]) -> dict[str, float]:
    """Answers asked per question, by domain, from the generate summary's group counts."""
    asked, questions = generate.get("asked") or {}, generate.get("question_counts") or {}
    return {
        domain: sum(asked[domain].values()) / sum(per_source.values())
        for domain, per_source in questions.items()
        if domain in asked and sum(per_source.values())
    }


def recipe_line(summaries: dict[str, dict[str, Any]]) -> str:
    """The run in one line: questions in -> selected -> answers -> verified -> in the set."""

    def rows(stage: str) -> int:
        return int(summaries.get(stage, {}).get("rows") or 0)

    steps = [f"questions in: {rows('sources')}", f"after dedup and decontamination: {rows('decontaminate')}"]
    for title, stage in (
        ("mixed", "mix"),
        ("difficulty filter", "difficulty"),
        ("length filter", "response_length"),
    ):
        if summaries.get(stage, {}).get("enabled"):
            steps.append(f"{title}: {rows(stage)}")
    gen = summaries.get("generate", {})
    samples = ", ".join(f"{d}: {k:g}" for d, k in sorted(samples_per_question(gen).items())) or "1"
    steps.append(f"answers: {rows('generate')} (per question: {samples})")
    verified = sum(
        n
        for per_source in (summaries.get("verify", {}).get("counts") or {}).values()
        for n in per_source.values()
    )
    steps.append(f"verified: {verified}")
    write = summaries.get("write", {})
    if "verified_rows" in write:
        metadata_only = write.get("verdict_as_metadata") or []
        note = (
            f" (verdict kept as metadata, not a filter, for: {', '.join(metadata_only)})"
            if metadata_only
            else ""
        )
        steps.append(f"in the set: {write['verified_rows']}{note}")
    return " → ".join(steps) + "."


def render_card(name: str, summaries: dict[str, dict[str, Any]], *, title: str | None = None) -> str:
    """The README.md text: Hub front matter (configs), the per-stage table, filters, verdicts."""
    front = {
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": "default/*.parquet"}],
                "default": True,
            },
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
        "## Counts at every stage\n\n" + _markdown_table(stage_table(summaries), stage_columns(summaries)),
        "pass_rate = verified / generated. generated = answers (several per question when "
        "samples_per_question > 1); failed = answers whose teacher request failed (see "
        "`generate/engine/failures.jsonl` in the run directory).",
        "## Recipe\n\n" + recipe_line(summaries),
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
            f"{engine.get('cache_hits', 0)}"
            + (
                f" ({engine['cache_adopted']} from another shard layout)"
                if engine.get("cache_adopted")
                else ""
            )
            + f", prompt tokens: {engine.get('prompt_tokens', 0)}, completion "
            f"tokens: {engine.get('completion_tokens', 0)}, cost: "
            # every answer at what it cost when bought: a resumed run shows the whole run's cost
            f"${engine.get('total_cost_usd', engine.get('cost_usd', 0.0)):.4f} "
            f"(this invocation ${engine.get('cost_usd', 0.0):.4f})."
        )
    return "\n\n".join(parts) + "\n"
