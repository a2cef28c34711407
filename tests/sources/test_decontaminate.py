"""Decontamination against benchmark fixture files (benchmark-like problems written for these tests)."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
from thoughtmill.curation.decontaminate import decontaminate, load_benchmarks, ngram_hashes
from thoughtmill.curation.errors import ConfigError, InputError

from thoughtmill.benchmarks import benchmark_info

NAMES = ("aime24", "math500", "gpqa_diamond", "livecodebench")


@pytest.fixture
def benchmarks(data: Path) -> dict[str, list[str]]:
    files = {name: data / "benchmarks" / f"{name}.jsonl" for name in NAMES}
    return load_benchmarks(NAMES, local_files=files)


def make(problems: list[str]) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"problem": problems, "source": [f"s{i % 2}" for i in range(len(problems))]}
    )


def test_benchmark_files_load_with_their_real_columns(benchmarks: dict[str, list[str]]) -> None:
    assert {k: len(v) for k, v in benchmarks.items()} == {
        "aime24": 2,
        "math500": 2,
        "gpqa_diamond": 1,
        "livecodebench": 1,
    }
    assert benchmark_info("aime24").text_columns == ("Problem",)  # the real column, read from the fixture too


def test_fuzzy_drops_near_copies_and_counts_per_benchmark(benchmarks: dict[str, list[str]]) -> None:
    aime = benchmarks["aime24"][0]
    ds = make(
        [
            aime.replace("Find", "find"),  # case only
            benchmarks["math500"][1].replace("13x", "13 x"),  # a space
            "Compute the sum of the cubes of the roots of $x^2 - 5x + 6 = 0$.",  # clean
            "Intro text that is long enough to change the ratio a lot. " + benchmarks["livecodebench"][0],
        ]
    )
    out, stats = decontaminate(ds, benchmarks)
    assert out["problem"] == [ds[2]["problem"], ds[3]["problem"]]
    assert stats.by_benchmark == {"aime24": 1, "math500": 1, "gpqa_diamond": 0, "livecodebench": 0}
    assert (stats.dropped, stats.kept) == (2, 2)
    assert stats.dropped_by_source == {"s0": 1, "s1": 1}


def test_ngram_catches_a_benchmark_problem_inside_a_longer_text(benchmarks: dict[str, list[str]]) -> None:
    embedded = "Intro text that is long enough to change the ratio a lot. " + benchmarks["livecodebench"][0]
    ds = make([embedded, "A short unrelated question about grids and walls with H rows."])
    out, stats = decontaminate(ds, benchmarks, method="ngram")
    assert stats.by_benchmark["livecodebench"] == 1 and len(out) == 1
    _, both = decontaminate(ds, benchmarks, method="both")
    assert both.dropped == 1
    _, wide = decontaminate(ds, benchmarks, method="ngram", ngram=60)
    assert wide.dropped == 0  # no 60-word window: only whole short texts would match


def test_ngram_hashes_stay_within_a_row() -> None:
    import pyarrow as pa
    from thoughtmill.curation.similarity import normalize

    hashes, rows = ngram_hashes(normalize(pa.array(["a b c", "d e", "", "A, b c!", "f"])), 2)
    assert rows.tolist() == [0, 0, 1, 3, 3, 4]  # no bigram spans two rows; "f" is hashed whole
    assert hashes[0] == hashes[3] and hashes[1] == hashes[4]  # punctuation separates words
    assert len(set(hashes[[0, 1, 2, 5]].tolist())) == 4


def test_bad_configuration_is_named(data: Path, benchmarks: dict[str, list[str]]) -> None:
    with pytest.raises(ConfigError, match="method"):
        decontaminate(make(["x"]), benchmarks, method="exact")
    with pytest.raises(ConfigError, match="unknown benchmark"):
        load_benchmarks(["mmlu"])
    with pytest.raises(InputError, match="does not exist"):
        load_benchmarks(["aime25"], local_files={"aime25": data / "nope.jsonl"})
    with pytest.raises(InputError, match="no column"):
        load_benchmarks(
            ["aime24"],
            local_files={"aime24": data / "benchmarks" / "gpqa_diamond.jsonl"},
            columns={"aime24": ["Problem"]},
        )


def test_a_hub_benchmark_is_read_from_the_registry_location_text_columns_only(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[tuple, dict]] = []
    real = datasets.load_dataset

    def stand_in(*args: object, **kwargs: object) -> object:
        calls.append((args, dict(kwargs)))
        files = {"train": str(data / "benchmarks" / "livecodebench.jsonl")}
        return real("json", data_files=files, split="train", streaming=True)

    monkeypatch.setattr(datasets, "load_dataset", stand_in)
    texts = load_benchmarks(["livecodebench"])
    assert texts == load_benchmarks(
        ["livecodebench"], local_files={"livecodebench": data / "benchmarks" / "livecodebench.jsonl"}
    )
    base = "hf://datasets/livecodebench/code_generation_lite/"
    assert calls[0] == (
        ("json",),
        {
            "split": "train",
            "streaming": True,
            "data_files": {"train": [base + "test.jsonl", base + "test2.jsonl"]},
        },
    )
    # then the wider copy decontamination also removes: every release
    assert calls[1][1]["data_files"] == {"train": base + "test*.jsonl"}


def test_an_unreachable_hub_benchmark_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args: object, **kwargs: object) -> object:
        raise ConnectionError("Couldn't reach 'HuggingFaceH4/MATH-500' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(InputError) as error:
        load_benchmarks(["math500"])
    message = str(error.value)
    assert message.startswith("benchmark 'math500': cannot read dataset 'HuggingFaceH4/MATH-500'")
    assert "local_files:" in message and "ConnectionError: Couldn't reach" in message
