"""Inputs people pass: a pandas DataFrame, a DatasetDict (one split, or several: a clear error)."""

from __future__ import annotations

import datasets
import pandas as pd
import pytest
from thoughtmill.curation.engine import LLM
from thoughtmill.curation.errors import InputError

from tests.engine.conftest import teacher_for


class Echo(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {"id": int(row["id"]), "answer": response.content}


def test_a_pandas_dataframe_is_read_row_by_row(server, api_key, tmp_path):
    frame = pd.DataFrame({"id": [0, 1, 2], "problem": ["p0", "p1", "p2"]})
    out = Echo(teacher_for(server), working_dir=tmp_path, progress=False)(frame)
    assert out["id"] == [0, 1, 2] and server.stats(brief=True)["requests"] == 3


def test_a_datasetdict_of_one_split_is_that_split(server, api_key, tmp_path):
    data = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"id": [0, 1], "problem": ["a", "b"]})})
    out = Echo(teacher_for(server), working_dir=tmp_path, progress=False)(data)
    assert len(out) == 2


def test_a_datasetdict_of_several_splits_names_them(server, api_key, tmp_path):
    one = datasets.Dataset.from_dict({"id": [0], "problem": ["a"]})
    data = datasets.DatasetDict({"train": one, "test": one})
    with pytest.raises(InputError, match=r"splits \['train', 'test'\]; pass one split, e.g. data\['train'\]"):
        Echo(teacher_for(server), working_dir=tmp_path, progress=False)(data)
    assert server.stats(brief=True)["requests"] == 0
