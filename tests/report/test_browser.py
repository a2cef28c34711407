"""The report in a real headless Chromium: loads with no console error, draws every plot, no network.

The screenshot is kept in the test's folder (and copied to $THOUGHTMILL_SCREENSHOTS when set).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from thoughtmill.curation.report import REPORT_FILE

from tests.report.browser import find_chromium, visit

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="no chromium on this machine (make sysdeps installs Debian's package)"
)

#: per plot section: its id and how many SVG shapes plotly drew in it
DRAWN = """
Array.from(document.querySelectorAll("section.plot")).map(s => [
  s.id, s.querySelectorAll("svg.main-svg path, svg.main-svg rect").length,
  s.querySelector("svg.main-svg") ? s.querySelector("svg.main-svg").getBoundingClientRect().width : 0])
"""


def test_report_renders_in_chromium(demo_run: Path, tmp_path: Path) -> None:
    page = demo_run / REPORT_FILE
    seen = asyncio.run(visit(page.as_uri(), DRAWN))
    assert seen.console_errors == [] and seen.exceptions == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in seen.requests), seen.requests
    drawn = {anchor: (shapes, width) for anchor, shapes, width in seen.result}
    assert set(drawn) >= {"funnel", "pass-rate", "verdicts", "reasoning-length", "solution-length"}
    for anchor, (shapes, width) in drawn.items():
        assert shapes > 5 and width > 200, f"plot {anchor} is empty ({shapes} shapes, {width}px)"
    shot = tmp_path / "report.png"
    shot.write_bytes(seen.screenshot)
    assert seen.screenshot.startswith(b"\x89PNG") and shot.stat().st_size > 20_000
    if os.environ.get("THOUGHTMILL_SCREENSHOTS"):
        shutil.copy(shot, Path(os.environ["THOUGHTMILL_SCREENSHOTS"]) / "report.png")


#: the funnel plot's category labels, as the browser drew them
FUNNEL_LABELS = """
Array.from(document.querySelectorAll("section.plot#funnel svg.main-svg text")).map(t => t.textContent)
"""


def test_the_recipe_report_draws_the_selection_stages(tmp_path: Path) -> None:
    """The OpenThoughts3 miniature recipe's report: the funnel the browser draws has the question-
    selection stages (mixed, difficulty, length) between decontamination and generation."""
    from thoughtmill.curation.pipeline.config import load_config
    from thoughtmill.curation.pipeline.runner import run_pipeline

    from thoughtmill.resources import bundled_config

    run_dir = tmp_path / "run"
    run_pipeline(
        load_config(bundled_config("openthoughts3-mini.yaml"), [f"run_dir={run_dir}"]), echo=lambda _: None
    )
    seen = asyncio.run(visit((run_dir / REPORT_FILE).as_uri(), FUNNEL_LABELS))
    assert seen.console_errors == [] and seen.exceptions == []
    stages = ["sourced", "deduplicated", "decontaminated", "mixed", "difficulty_kept", "length_kept",
              "generated", "verified"]  # fmt: skip
    drawn = [text for text in seen.result if text in stages]
    assert drawn[::-1] == stages, seen.result  # plotly draws a funnel's labels bottom up
