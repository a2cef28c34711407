"""The report as one self-contained HTML page: plotly.js inlined once, every figure a div, no request
to any server when the page is viewed (it opens from a file, offline, on a cluster's login node)."""

from __future__ import annotations

import html
import json
import time
from typing import Any

from thoughtmill.curation.card import stage_titles
from thoughtmill.curation.engine.progress import usd
from thoughtmill.curation.report.data import RunData
from thoughtmill.curation.report.figures import figures, plotly_modules

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:1rem 2rem;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:right} th{background:#f4f4f4}
td:first-child,td:nth-child(2){text-align:left} tr.total td{font-weight:bold}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.5rem .9rem;min-width:8rem}
.card b{display:block;font-size:1.3rem}
.plot{margin:1.5rem 0} .sample{border:1px solid #ddd;border-radius:6px;padding:.4rem .8rem;margin:.6rem 0}
.ok{color:#2a9d8f;font-weight:bold} .bad{color:#e76f51;font-weight:bold}
pre{white-space:pre-wrap;background:#f8f8f8;padding:.5rem;border-radius:4px;font-size:.85rem}
.error{background:#fdecea;border:1px solid #e76f51;padding:.5rem .9rem;border-radius:6px}
"""


def render(data: RunData) -> str:
    """The whole page for one run."""
    _, offline = plotly_modules()
    plots = "\n".join(
        f'<section class="plot" id="{anchor}"><h2>{html.escape(title)}</h2>'
        + fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"plot-{anchor}",
            config={"displaylogo": False, "responsive": True},
        )
        + "</section>"
        for anchor, title, fig in figures(data)
    )
    body = "\n".join(
        [
            _header(data),
            "<h2>Rows per stage</h2>",
            _stage_table(data.table),
            plots or "<p>No plots yet: the run has not produced rows.</p>",
            _samples(data.samples),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(data.name)}: run report</title><style>{_STYLE}</style>"
        f"<script>{offline.get_plotlyjs()}</script></head>\n<body>\n{body}\n</body></html>\n"
    )


def _header(data: RunData) -> str:
    status = data.status.get("status") or "unknown (no summary.json: the run is live or was killed)"
    parts = [
        f"<h1>{html.escape(data.name)}</h1>",
        f'<p class="sub">run directory {html.escape(str(data.run_dir))} · status {html.escape(str(status))}'
        f" · report written {time.strftime('%Y-%m-%d %H:%M:%S')}</p>",
    ]
    error = data.status.get("error")
    if error:
        parts.append(
            f'<p class="error">stopped in stage {html.escape(str(error.get("stage")))}: '
            f"{html.escape(str(error.get('type')))}: {html.escape(str(error.get('message')))}</p>"
        )
    overall = data.table[-1] if data.table else {}
    cards = [
        ("problems", overall.get("decontaminated", "-")),
        ("generated", overall.get("generated", "-")),
        ("verified", overall.get("verified", "-")),
        ("pass rate", "-" if overall.get("pass_rate") is None else f"{overall['pass_rate']:.1%}"),
    ]
    cost = data.cost
    if cost.get("total_cost_usd") is not None:
        cards.append(("teacher cost", usd(cost["total_cost_usd"])))
        cards.append(("output tokens", f"{cost.get('output_tokens') or 0:,}"))
    if cost.get("not_sent_budget"):
        cards.append(
            ("stopped by budget", f"{usd(cost.get('budget_usd') or 0)}: {cost['not_sent_budget']} unsent")
        )
    if data.teacher:
        cards.append(("teacher", data.teacher))
    parts.append(
        '<div class="cards">'
        + "".join(f'<div class="card">{html.escape(k)}<b>{html.escape(str(v))}</b></div>' for k, v in cards)
        + "</div>"
    )
    return "\n".join(parts)


def _stage_table(rows: list[dict[str, Any]]) -> str:
    stages = stage_titles(rows)
    titles = ["domain", "source", *stages, "pass rate"]
    out = ["<table><tr>" + "".join(f"<th>{t}</th>" for t in titles) + "</tr>"]
    for row in rows:
        rate = "-" if row["pass_rate"] is None else f"{row['pass_rate']:.1%}"
        cells = [row["domain"], row["source"], *(row[t] for t in stages), rate]
        css = ' class="total"' if row["source"] == "(all)" else ""
        out.append(f"<tr{css}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _samples(samples: dict[str, list[dict[str, Any]]]) -> str:
    if not samples:
        return ""
    out = ['<section id="samples"><h2>Sample rows</h2>']
    for domain, rows in samples.items():
        out.append(f"<h3>{html.escape(domain)}</h3>")
        for row in rows:
            ok = bool(row.get("verified"))
            verdict = html.escape(str(row.get("verdict")))
            detail = json.dumps(row.get("verification_detail"), indent=1, ensure_ascii=False, default=str)
            out.append(
                '<div class="sample">'
                f'<p><span class="{"ok" if ok else "bad"}">{"verified" if ok else "rejected"}</span> · '
                f"verdict <code>{verdict}</code> · {html.escape(str(row.get('source')))} · "
                f"<code>{html.escape(str(row.get('id')))}</code></p>"
                f"<pre>{html.escape(row.get('problem') or '')}</pre>"
                f"<details><summary>solution</summary><pre>{html.escape(row.get('deepseek_solution') or '')}</pre>"
                "</details>"
                f"<details><summary>reasoning</summary><pre>{html.escape(row.get('deepseek_reasoning') or '')}"
                "</pre></details>"
                f"<details><summary>verdict detail</summary><pre>{html.escape(detail)}</pre></details>"
                "</div>"
            )
    out.append("</section>")
    return "\n".join(out)
