"""Helpers for the pipeline tests: the demo config pointed at a temporary run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import pytest
from thoughtmill.curation.pipeline.config import PipelineConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.yaml"
DATA = ROOT / "tests" / "data" / "pipeline"


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    datasets.disable_progress_bars()
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


def demo_config(tmp_path: Path, *overrides: str) -> PipelineConfig:
    return load_config(DEMO, [f"run_dir={tmp_path / 'run'}", *overrides])


def quiet(*_: Any) -> None:
    """An echo that prints nothing."""
