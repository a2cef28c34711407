"""The engine's input: rows of a Dataset, a DatasetDict of one split, a pandas DataFrame, a list or any
iterable of mappings, read lazily."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import datasets
from thoughtmill.curation.datasets_io import read_rows
from thoughtmill.curation.errors import InputError


def iter_rows(data: Any) -> tuple[Iterator[dict[str, Any]], int | None]:
    """Rows of a Dataset (read in Arrow batches), a list, or any iterable, with the count when known."""
    if isinstance(data, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        data = _only_split(data)
    if isinstance(data, datasets.Dataset):
        return read_rows(data, 512), len(data)  # plain file reads: the input does not stay mapped
    if isinstance(data, datasets.IterableDataset):
        return iter(data), None
    if _is_pandas_frame(data):
        columns = [str(c) for c in data.columns]
        rows = (dict(zip(columns, values)) for values in data.itertuples(index=False, name=None))
        return rows, len(data)
    total = len(data) if hasattr(data, "__len__") else None
    return iter(data), total


def _only_split(data: Any) -> Any:
    """A DatasetDict's one split; with several, which one is for the caller to say."""
    splits = list(data)
    if len(splits) == 1:
        return data[splits[0]]
    raise InputError(
        f"the input is a DatasetDict with splits {splits}; pass one split, e.g. data[{splits[0]!r}]"
    )


def _is_pandas_frame(data: Any) -> bool:
    """A pandas DataFrame, recognised without importing pandas (iterating one gives column names)."""
    return type(data).__name__ == "DataFrame" and type(data).__module__.startswith("pandas")
