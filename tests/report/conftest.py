"""A finished demo run shared by the report tests (the real pipeline, the replay teacher, real files)."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
from thoughtmill.curation.pipeline.config import load_config
from thoughtmill.curation.pipeline.runner import run_pipeline

from tests.engine.conftest import api_key, server  # noqa: F401 (the fake teacher fixtures, shared)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished demo run directory (its report written by the pipeline at the end)."""
    datasets.disable_progress_bars()
    run_dir = tmp_path_factory.mktemp("report") / "run"
    lines: list[str] = []
    run_pipeline(load_config(DEMO, [f"run_dir={run_dir}"]), echo=lines.append)
    return run_dir
