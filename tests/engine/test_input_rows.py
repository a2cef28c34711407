"""Reading input rows: plain file reads where the dataset is a file as written, the same rows always."""

from __future__ import annotations

import datasets
import pytest
from thoughtmill.curation.engine.rows import iter_rows


@pytest.fixture
def saved(tmp_path) -> datasets.Dataset:
    ds = datasets.Dataset.from_dict(
        {
            "a": list(range(1300)),
            "b": [f"x{i}" for i in range(1300)],
            "c": [[i, i + 1] for i in range(1300)],
            "n": [None if i % 3 else {"k": i} for i in range(1300)],
        }
    )
    ds.save_to_disk(str(tmp_path / "saved"))
    return datasets.load_from_disk(str(tmp_path / "saved"))


def _spy_iter(monkeypatch) -> dict[str, int]:
    calls = {"iter": 0}
    original = datasets.Dataset.iter

    def spy(self, *args, **kwargs):
        calls["iter"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(datasets.Dataset, "iter", spy)
    return calls


def test_a_saved_dataset_is_read_from_its_file_without_the_memory_map(saved, monkeypatch):
    calls = _spy_iter(monkeypatch)
    rows, total = iter_rows(saved)
    assert list(rows) == saved.to_list() and total == 1300
    assert calls["iter"] == 0


@pytest.mark.parametrize("change", ["select_columns", "rename", "filter", "select_rows"])
def test_changed_datasets_give_the_same_rows_as_datasets_itself(saved, monkeypatch, change):
    changed = {
        "select_columns": lambda d: d.select_columns(["b", "a"]),
        "rename": lambda d: d.rename_column("a", "z"),
        "filter": lambda d: d.filter(lambda r: r["a"] % 2 == 0),
        "select_rows": lambda d: d.select(range(1299, -1, -7)),
    }[change](saved)
    rows, total = iter_rows(changed)
    assert list(rows) == changed.to_list() and total == len(changed)
