"""Plain-read iteration of stage datasets (``curation.pipeline.reading``) and the streaming ``save_dataset``:
the same rows as ``datasets`` gives through the memory map, for every shape a stage meets."""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pytest
from thoughtmill.curation import datasets_io as reading
from thoughtmill.curation.datasets_io import DATA_FILE, read_batches, read_rows, streams_from_files, take_rows
from thoughtmill.curation.pipeline.stage import save_dataset
from thoughtmill.curation.sources.arrow import arrow_table

ROWS = 2_345


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, datasets.Dataset]:
    """The same rows saved as one shard and as three (a concatenation of mapped files)."""
    datasets.disable_progress_bars()
    rng = np.random.default_rng(0)
    data = {
        "id": [f"row-{k}" for k in range(ROWS)],
        "problem": ["".join(rng.choice(list("abc xyz"), int(rng.integers(0, 40)))) for _ in range(ROWS)],
        "domain": [("math", "code", None)[k % 3] for k in range(ROWS)],
        "n": list(range(ROWS)),
    }
    out = {}
    for shards in (1, 3):
        folder = tmp_path_factory.mktemp("reading") / f"shards-{shards}"
        datasets.Dataset.from_dict(data).save_to_disk(str(folder), num_shards=shards)
        out[f"shards-{shards}"] = datasets.load_from_disk(str(folder))
    return out


def _plain_cases(ds: datasets.Dataset) -> dict[str, datasets.Dataset]:
    keep = np.flatnonzero(np.arange(len(ds)) % 7 != 3)
    return {
        "as saved": ds,
        "columns chosen": ds.select_columns(["problem", "id"]),
        "column removed": ds.remove_columns("n"),
        "sorted selection": ds.select(keep),
        "filtered": ds.filter(lambda row: row["domain"] == "code"),
        "selection of a selection": ds.select(keep).select(range(10, 900)),
        "cast column (a new file)": ds.cast_column("n", datasets.Value("int32")),
    }


def _gathered_cases(ds: datasets.Dataset) -> dict[str, datasets.Dataset]:
    return {
        "shuffled selection": ds.select(np.random.default_rng(1).permutation(len(ds))[:1500]),
        "renamed column": ds.rename_column("problem", "question"),
        "cast table": datasets.Dataset(ds.data.cast(_with_int32_n(ds))),
        "in memory": datasets.Dataset.from_dict(ds.to_dict()),
        "sliced": datasets.Dataset(ds.data.slice(100, 700)),
    }


def _with_int32_n(ds: datasets.Dataset) -> pa.Schema:
    features = ds.features.copy()
    features["n"] = datasets.Value("int32")
    return features.arrow_schema


def _collect(ds: datasets.Dataset, rows: int, columns: list[str] | None = None) -> pa.Table:
    batches = list(read_batches(ds, rows, columns))
    assert all(b.num_rows == rows for b in batches[:-1]) and (not batches or 0 < batches[-1].num_rows <= rows)
    schema = arrow_table(ds, columns).schema
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()


@pytest.mark.parametrize("shards", ["shards-1", "shards-3"])
def test_plain_reads_give_the_mapped_rows(
    saved: dict[str, datasets.Dataset], shards: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_gather(*_: Any) -> None:
        raise AssertionError("read through the memory map, expected plain file reads")

    monkeypatch.setattr(reading, "_gathered_pieces", no_gather)
    for label, ds in _plain_cases(saved[shards]).items():
        assert streams_from_files(ds), label
        for rows in (1, 333, 1000, 5000):
            assert _collect(ds, rows).equals(arrow_table(ds), check_metadata=True), (label, rows)
        assert _collect(ds, 512, ["id", "problem"]).equals(arrow_table(ds, ["id", "problem"])), label
        assert list(read_rows(ds, 256)) == ds.to_list(), label


def test_other_datasets_are_gathered_with_the_same_rows(saved: dict[str, datasets.Dataset]) -> None:
    for label, ds in _gathered_cases(saved["shards-3"]).items():
        assert not streams_from_files(ds), label
        for rows in (1, 333, 1000):
            assert _collect(ds, rows).equals(arrow_table(ds), check_metadata=True), (label, rows)
        assert list(read_rows(ds, 200)) == ds.to_list(), label


def test_take_rows_matches_arrow_take() -> None:
    rng = np.random.default_rng(2)
    chunks = [
        pa.array([f"t{k}-{j}" if j % 5 else None for j in range(int(n))], pa.string())
        for k, n in enumerate([3, 0, 17, 1, 40])
    ]
    column = pa.chunked_array(chunks, type=pa.string())
    for positions in (
        rng.integers(0, len(column), 200),  # unsorted, repeats
        np.sort(rng.integers(0, len(column), 50)),
        np.array([len(column) - 1, 0]),
        np.zeros(0, np.int64),
    ):
        expected = column.take(pa.array(positions, pa.int64())).combine_chunks()
        assert take_rows(column, positions).equals(expected)
    table = pa.table({"a": column, "b": pa.chunked_array([pa.array(range(len(column)))])})
    assert take_rows(table, np.array([5, 2, 60])).equals(table.take([5, 2, 60]).combine_chunks())
    with pytest.raises(IndexError):
        take_rows(column, np.array([len(column)]))


def test_save_dataset_writes_what_save_to_disk_writes(
    saved: dict[str, datasets.Dataset], tmp_path: Path
) -> None:
    ds = saved["shards-3"]
    cases = {**_plain_cases(ds), "shuffled selection": _gathered_cases(ds)["shuffled selection"]}
    for k, (label, case) in enumerate(cases.items()):
        expected, written = tmp_path / f"expected-{k}", tmp_path / f"written-{k}"
        case.save_to_disk(str(expected))
        assert save_dataset(case, written) == written
        for name in ("state.json", "dataset_info.json", DATA_FILE):
            assert filecmp.cmp(expected / name, written / name, shallow=False), (label, name)
        assert datasets.load_from_disk(str(written)).to_list() == case.to_list(), label
