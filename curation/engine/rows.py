"""The engine's input: rows of a Dataset, a list or any iterable, read lazily."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import datasets
from thoughtmill.curation.datasets_io import read_rows


def iter_rows(data: Any) -> tuple[Iterator[dict[str, Any]], int | None]:
    """Rows of a Dataset (read in Arrow batches), a list, or any iterable, with the count when known."""
    if isinstance(data, datasets.Dataset):
        return read_rows(data, 512), len(data)  # plain file reads: the input does not stay mapped
    if isinstance(data, datasets.IterableDataset):
        return iter(data), None
    total = len(data) if hasattr(data, "__len__") else None
    return iter(data), total
