"""Shared fixtures for the source tests: the fixture files in the sources' real layouts, a private cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import datasets
import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "sources"


@pytest.fixture(autouse=True, scope="session")
def _private_datasets_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep Arrow caches of the fixtures out of the user's cache (and never reuse a stale one)."""
    saved = datasets.config.HF_DATASETS_CACHE
    datasets.config.HF_DATASETS_CACHE = tmp_path_factory.mktemp("hf-datasets-cache")
    datasets.disable_progress_bars()
    yield
    datasets.config.HF_DATASETS_CACHE = saved


@pytest.fixture
def data() -> Path:
    return DATA
