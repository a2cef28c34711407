"""Shared fixtures: the benchmark data files written for these tests (tests/data/eval/)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "eval"


@pytest.fixture
def data_dir() -> Path:
    return DATA
