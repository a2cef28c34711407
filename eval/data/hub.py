"""Load a benchmark from the Hugging Face hub (the dataset ids Evalchemy uses) as plain rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thoughtmill.eval.errors import DataError


@dataclass(frozen=True)
class HubSource:
    """Where a benchmark lives on the hub. ``data_files`` loads raw files of a repo (for datasets such
    as LiveCodeBench whose loading script newer ``datasets`` releases no longer run)."""

    repo: str
    config: str | None = None
    split: str = "test"
    data_files: tuple[str, ...] = ()
    revision: str | None = None

    def describe(self) -> str:
        parts = [self.repo]
        if self.config:
            parts.append(f"config={self.config}")
        parts.append(f"split={self.split}")
        if self.data_files:
            parts.append("files=" + ",".join(self.data_files))
        return " ".join(parts)


def load_hub_records(source: HubSource) -> list[dict[str, Any]]:
    """Download (or read from the local HF cache) and return every row of the source."""
    import datasets

    try:
        if source.data_files:
            files = [f"hf://datasets/{source.repo}/{name}" for name in source.data_files]
            suffix = source.data_files[0].rsplit(".", 1)[-1]
            builder = "parquet" if suffix == "parquet" else "json"
            ds = datasets.load_dataset(builder, data_files=files, split="train", revision=source.revision)
        else:
            ds = datasets.load_dataset(
                source.repo, source.config, split=source.split, revision=source.revision
            )
    except Exception as exc:  # the hub raises many types; name the dataset in one error
        raise DataError(f"cannot load hub dataset {source.describe()}: {exc}") from exc
    return ds.to_list()
