"""The report's plots, built with plotly from :class:`RunData` (plain numbers in, figures out).

plotly is imported here only, when a report is written, so the pipeline imports stay light.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.report.data import RunData

_INSTALL_HINT = "the run report needs plotly: pip install 'plotly>=5.20' (a thoughtmill dependency)"
_VERIFIED, _REJECTED = "#2a9d8f", "#e76f51"
#: verdicts that mean "kept", drawn in greens; every other verdict gets a warm colour
_PASSING = {"accepted": "#2a9d8f", "correct": "#52b788", "pass_through": "#95d5b2", "verified": "#40916c"}
_OTHER_COLORS = ["#e76f51", "#f4a261", "#e9c46a", "#d62828", "#9d4edd", "#6c757d", "#bc6c25", "#ff8fab"]
_LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "height": 360,
    "template": "plotly_white",
}


def plotly_modules() -> tuple[Any, Any]:
    """``(plotly.graph_objects, plotly.offline)``, or a clear error naming the install."""
    try:
        import plotly.graph_objects as go
        import plotly.offline as offline
    except ImportError as exc:
        raise ConfigError(_INSTALL_HINT) from exc
    return go, offline


def figures(data: RunData) -> list[tuple[str, str, Any]]:
    """``(anchor, title, figure)`` for every plot the data allows, in reading order."""
    go, _ = plotly_modules()
    out: list[tuple[str, str, Any]] = []
    if any(n for _, n in data.funnel):
        out.append(("funnel", "Rows left after each stage", _funnel(go, data)))
    rates = [r for r in data.table if r["pass_rate"] is not None and r["domain"] != "(all)"]
    if rates:
        out.append(("pass-rate", "Pass rate by domain and source", _pass_rates(go, rates)))
    if data.verdicts:
        out.append(("verdicts", "Verdicts per domain", _verdicts(go, data.verdicts)))
    unit = "tokens (estimated: characters / 3)" if data.lengths.estimated else "tokens"
    for anchor, title, values in (
        ("reasoning-length", "Reasoning length, verified vs rejected", data.lengths.reasoning),
        ("solution-length", "Solution length, verified vs rejected", data.lengths.solution),
    ):
        if any(values.values()):
            out.append((anchor, title, _histogram(go, values, unit)))
    if len(data.timeline) >= 2:
        out.append(("over-time", "Cost and throughput over time", _timeline(go, data.timeline)))
    return out


def _funnel(go: Any, data: RunData) -> Any:
    titles = [t for t, _ in data.funnel]
    counts = [n for _, n in data.funnel]
    fig = go.Figure(go.Funnel(y=titles, x=counts, textinfo="value+percent initial"))
    return fig.update_layout(**_LAYOUT)


def _pass_rates(go: Any, rows: list[dict[str, Any]]) -> Any:
    labels = [r["domain"] if r["source"] == "(all)" else f"{r['domain']} / {r['source']}" for r in rows]
    rates = [100 * r["pass_rate"] for r in rows]
    colors = ["#264653" if r["source"] == "(all)" else "#8ab17d" for r in rows]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=rates,
            marker_color=colors,
            text=[f"{v:.1f}%<br>{r['verified']}/{r['generated']}" for v, r in zip(rates, rows)],
            textposition="auto",
        )
    )
    return fig.update_layout(yaxis={"title": "verified / generated (%)", "range": [0, 105]}, **_LAYOUT)


def _verdicts(go: Any, verdicts: dict[str, dict[str, int]]) -> Any:
    domains = list(verdicts)
    names = sorted({v for per in verdicts.values() for v in per}, key=lambda n: (n not in _PASSING, n))
    others = iter(_OTHER_COLORS * (1 + len(names) // len(_OTHER_COLORS)))
    fig = go.Figure(
        [
            go.Bar(
                name=name,
                x=domains,
                y=[verdicts[d].get(name, 0) for d in domains],
                marker_color=_PASSING.get(name) or next(others),
            )
            for name in names
        ]
    )
    return fig.update_layout(barmode="stack", yaxis={"title": "rows"}, **_LAYOUT)


def _histogram(go: Any, values: dict[str, list[int]], unit: str) -> Any:
    fig = go.Figure(
        [
            go.Histogram(x=values[kind], name=kind, marker_color=color, opacity=0.7)
            for kind, color in (("verified", _VERIFIED), ("rejected", _REJECTED))
            if values[kind]
        ]
    )
    return fig.update_layout(barmode="overlay", xaxis={"title": unit}, yaxis={"title": "rows"}, **_LAYOUT)


def _timeline(go: Any, timeline: list[dict[str, Any]]) -> Any:
    """Cost and rows/s against wall-clock time: every invocation of the run, gaps between them shown."""
    from plotly.subplots import make_subplots

    when = [datetime.fromtimestamp(r.get("t") or 0, tz=timezone.utc) for r in timeline]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=when, y=[r.get("cost_usd") or 0 for r in timeline], name="cost so far ($)"),
        secondary_y=False,
    )
    stages = dict.fromkeys(r.get("stage") for r in timeline if r.get("stage"))
    for stage in stages:  # one throughput line per stage: rows of different stages are not alike
        points = [(w, r.get("rows_per_s") or 0) for w, r in zip(when, timeline) if r.get("stage") == stage]
        fig.add_trace(
            go.Scatter(
                x=[w for w, _ in points],
                y=[v for _, v in points],
                name=f"{stage} rows/s",
                mode="lines+markers",
                line={"dash": "dot"},
            ),
            secondary_y=True,
        )
    fig.update_xaxes(title_text="time (UTC)")
    fig.update_yaxes(title_text="US dollars", secondary_y=False)
    fig.update_yaxes(title_text="rows per second", secondary_y=True)
    return fig.update_layout(**_LAYOUT)
