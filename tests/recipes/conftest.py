"""Fixtures for the recipe tests: quiet datasets, a private Hub cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import pytest


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    datasets.disable_progress_bars()
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


def quiet(*_: Any) -> None:
    """An echo that prints nothing."""
