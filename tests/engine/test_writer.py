"""The shard writer: any completion order in, input order out, with bucket-bounded memory."""

from __future__ import annotations

import random

import datasets
import pytest
from thoughtmill.curation.engine.writer import ShardWriter
from thoughtmill.curation.errors import InputError


def test_out_of_order_rows_come_out_in_input_order(tmp_path):
    writer = ShardWriter(tmp_path / "shards", rows_per_shard=7)
    order = list(range(100))
    random.Random(3).shuffle(order)
    for index in order:
        writer.add(index, [{"i": index, "k": k, "text": f"r{index}.{k}"} for k in range(index % 3)])
    out = writer.finalize(tmp_path / "dataset")
    expected = [(i, k) for i in range(100) for k in range(i % 3)]
    assert list(zip(out["i"], out["k"])) == expected
    reloaded = datasets.load_from_disk(str(tmp_path / "dataset"))
    assert reloaded.to_list() == out.to_list()
    assert not (tmp_path / "shards").exists()


def test_columns_null_in_one_shard_and_missing_in_another_are_unified(tmp_path):
    writer = ShardWriter(tmp_path / "shards", rows_per_shard=2)
    writer.add(0, [{"a": 1, "b": None}])
    writer.add(1, [{"a": 2, "b": None}])
    writer.add(2, [{"a": 3, "b": "text"}])
    writer.add(3, [{"a": 4, "b": "more", "c": 1.5}])
    out = writer.finalize(tmp_path / "dataset")
    assert out.to_list() == [
        {"a": 1, "b": None, "c": None},
        {"a": 2, "b": None, "c": None},
        {"a": 3, "b": "text", "c": None},
        {"a": 4, "b": "more", "c": 1.5},
    ]


def test_a_field_with_two_types_is_named(tmp_path):
    writer = ShardWriter(tmp_path / "shards", rows_per_shard=1)
    writer.add(0, [{"score": 1}])
    writer.add(1, [{"score": "high"}])
    with pytest.raises(InputError, match="'score' is"):
        writer.finalize(tmp_path / "dataset")


def test_no_rows_gives_an_empty_dataset(tmp_path):
    out = ShardWriter(tmp_path / "shards").finalize(tmp_path / "dataset")
    assert len(out) == 0


def test_finalize_replaces_a_previous_output(tmp_path):
    for n in (5, 3):
        writer = ShardWriter(tmp_path / "shards", rows_per_shard=2)
        for i in range(n):
            writer.add(i, [{"i": i}])
        out = writer.finalize(tmp_path / "dataset")
    assert out["i"] == [0, 1, 2]
