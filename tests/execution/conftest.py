"""Shared helpers for the execution tests: case tables under tests/data/execution/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parents[1] / "data" / "execution"


def load_cases(name: str) -> list[dict[str, Any]]:
    cases = yaml.safe_load((DATA / name).read_text())
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases


def batch_workers() -> int:
    # more judges than cores: many cases just wait (sleep, time limits)
    return max(2, 2 * (os.cpu_count() or 1))


@pytest.fixture(scope="session")
def sandbox_layer() -> str:
    from thoughtmill.execution import sandbox_report

    return sandbox_report()["layer"]
