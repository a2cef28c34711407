"""The run report: written by the pipeline and by ``thoughtmill report``, self-contained, escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from thoughtmill.curation.cli import main
from thoughtmill.curation.pipeline.config import load_config
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.report import REPORT_FILE, write_report
from thoughtmill.curation.report.data import Lengths, RunData, gather
from thoughtmill.curation.report.page import render

from tests.report.conftest import DEMO


def test_the_pipeline_writes_the_report_at_the_end(demo_run: Path) -> None:
    page = (demo_run / REPORT_FILE).read_text()
    for anchor in ("funnel", "pass-rate", "verdicts", "reasoning-length", "solution-length", "samples"):
        assert f'id="{anchor}"' in page, anchor
    assert "thoughtmill-demo" in page and "77.8%" in page  # 28 of 36 verified, rounded as on the card


def test_the_page_needs_no_network(demo_run: Path) -> None:
    page = (demo_run / REPORT_FILE).read_text()
    assert not re.search(r"""<script[^>]+src=|<link[^>]+href=["']https?:""", page)
    assert "Plotly.newPlot" in page  # plotly.js itself is inlined (its code mentions URLs it never loads)


def test_the_data_behind_the_plots(demo_run: Path) -> None:
    data = gather(demo_run)
    assert data.funnel == [("sourced", 38), ("deduplicated", 37), ("decontaminated", 36), ("generated", 36),
                           ("verified", 28)]  # fmt: skip
    assert data.verdicts["code"] == {"accepted": 5, "no_code_block": 1, "runtime_error": 1, "wrong_answer": 1}
    assert len(data.lengths.reasoning["verified"]) == 28 and len(data.lengths.reasoning["rejected"]) == 8
    assert not data.lengths.estimated  # the demo's recording carries its token counts
    assert set(data.samples) == {"code", "math", "puzzle", "science"}
    for rows in data.samples.values():
        assert 1 <= len(rows) <= 4 and rows[0]["verified"]  # verified first
    rejected = next(r for r in data.samples["code"] if not r["verified"])
    assert isinstance(rejected["verification_detail"], dict)


def test_report_command_writes_where_asked(demo_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "elsewhere" / "r.html"
    with pytest.raises(SystemExit) as done:
        main(["report", str(demo_run), "--output", str(out)])
    assert done.value.code == 0
    assert f"run report: {out}" in capsys.readouterr().out
    assert out.stat().st_size > 100_000  # plotly.js inlined


def test_report_of_a_run_stopped_before_verify(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_pipeline(load_config(DEMO, [f"run_dir={run_dir}"]), until="generate", echo=lambda _: None)
    path = write_report(run_dir)
    page = path.read_text()
    assert 'id="funnel"' in page and 'id="reasoning-length"' in page
    assert 'id="verdicts"' not in page  # nothing judged yet


def test_texts_from_the_data_are_escaped(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    data = RunData(
        run_dir=tmp_path,
        name=hostile,
        status={"status": "failed", "error": {"stage": "verify", "type": "X", "message": hostile}},
        funnel=[],
        table=[],
        verdicts={},
        lengths=Lengths(),
        samples={
            "math": [
                {
                    "id": hostile,
                    "problem": hostile,
                    "verified": False,
                    "verdict": hostile,
                    "verification_detail": {"why": hostile},
                    "source": hostile,
                }
            ]
        },
        timeline=[],
        cost={},
        teacher=hostile,
    )
    page = render(data)
    assert "<img src=x" not in page and '<script>alert("x")' not in page
    assert "&lt;script&gt;alert" in page
