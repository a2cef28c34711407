"""The Hub loading path of every source, offline.

``datasets.load_dataset`` (and, for CAMEL, ``huggingface_hub.hf_hub_download``) is replaced by a
recording stand-in that checks what the adapter asks the Hub for (repo id or builder, ``data_files``
URL, ``split``, ``streaming``), then serves the project's fixture for that source, written in the
format of the real Hub files, through the real ``datasets.load_dataset`` of the matching local builder
(a real ``IterableDataset`` when streaming). The expected rows are what the local-file path gives.
The Hub itself is never contacted: every test runs with the Hub's offline mode on and DNS refused.
"""

from __future__ import annotations

import errno
import inspect
import json
import logging
import socket
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub
import huggingface_hub.constants
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.pipeline.config import SourceSpec, load_config
from thoughtmill.curation.sources import SOURCES, load_source, make_source
from thoughtmill.curation.sources.base import LoadedSource

from tests.sources.offline_hub import go_offline

REAL_LOAD_DATASET = datasets.load_dataset
REAL_HF_HUB_DOWNLOAD = huggingface_hub.hf_hub_download
RECIPE = Path(__file__).resolve().parents[2] / "configs" / "openthoughts-114k.yaml"
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "sources"


@dataclass(frozen=True)
class HubLayout:
    """What an adapter must ask ``load_dataset`` for, written out from the real Hub repos."""

    path: str
    #: ``data_files`` URL for ``{split}``; None for a repo id read through its own data files.
    data_files: str | None
    #: Local builder for the format of the real files (the fixture is served in that format).
    builder: str


HUB: dict[str, HubLayout] = {
    "taco": HubLayout("arrow", "hf://datasets/BAAI/TACO/{split}/*.arrow", "arrow"),
    "apps": HubLayout("json", "hf://datasets/codeparrot/apps/{split}.jsonl", "json"),
    "code_contests": HubLayout("deepmind/code_contests", None, "parquet"),
    "codeforces": HubLayout("MatrixStudio/Codeforces-Python-Submissions", None, "parquet"),
    "numina_math": HubLayout("AI-MO/NuminaMath-CoT", None, "parquet"),
    "riddle_sense": HubLayout(
        "parquet",
        "hf://datasets/INK-USC/riddle_sense@refs%2Fconvert%2Fparquet/default/{split}/*.parquet",
        "parquet",
    ),
}
CAMEL = {"camel_physics": "physics", "camel_chemistry": "chemistry", "camel_biology": "biology"}


def fixture_name(source: str) -> str:
    """The fixture file of a source (the three CAMEL subjects share the physics one)."""
    return "camel_physics" if source in CAMEL else source


# -- environment -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    go_offline(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def hub_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each source's fixture in the format its Hub files have (Arrow shard, JSONL, parquet, zip)."""
    out = tmp_path_factory.mktemp("hub-files")
    files: dict[str, Path] = {}
    for source, layout in HUB.items():
        jsonl = FIXTURES / f"{source}.jsonl"
        if layout.builder == "json":
            files[source] = jsonl
            continue
        raw = REAL_LOAD_DATASET("json", data_files=str(jsonl), split="train")
        if layout.builder == "parquet":
            files[source] = out / f"{source}.parquet"
            raw.to_parquet(files[source])
        else:  # TACO's shards are ``save_to_disk`` Arrow files
            raw.save_to_disk(out / source)
            (files[source],) = (out / source).glob("*.arrow")
    for source, subject in CAMEL.items():
        archive = out / subject / f"{subject}.zip"
        archive.parent.mkdir()
        with zipfile.ZipFile(archive, "w") as z:
            for i, line in enumerate((FIXTURES / "camel_physics.jsonl").read_text().splitlines()):
                z.writestr(f"{i:05d}.json", json.dumps(json.loads(line)))
        files[source] = archive
    return files


@pytest.fixture(scope="module")
def recipe() -> dict[str, SourceSpec]:
    """The recipe's source entries, as the pipeline's sources stage reads them."""
    return {spec.name: spec for spec in load_config(RECIPE).stages.sources.sources}


def fixture_rows(data: Path, source: str) -> int:
    return len((data / f"{fixture_name(source)}.jsonl").read_text().splitlines())


# -- stand-ins ---------------------------------------------------------------------------------------


@dataclass
class FakeLoadDataset:
    """Stands in for ``datasets.load_dataset``: records each call, serves ``file`` via the real builder.

    When streaming it returns the real builder's IterableDataset, with a pass-through ``map`` that
    counts the rows the adapter pulled from it.
    """

    builder: str
    file: Path
    calls: list[dict[str, Any]] = field(default_factory=list)
    yielded: int = 0

    def __call__(self, *args: Any, **kwargs: Any) -> datasets.Dataset | datasets.IterableDataset:
        arguments = dict(inspect.signature(REAL_LOAD_DATASET).bind(*args, **kwargs).arguments)
        self.calls.append(arguments)
        split = arguments["split"]
        data_files = {split: str(self.file)}
        if not arguments.get("streaming", False):
            return REAL_LOAD_DATASET(self.builder, data_files=data_files, split=split)
        stream = REAL_LOAD_DATASET(self.builder, data_files=data_files, split=split, streaming=True)
        assert isinstance(stream, datasets.IterableDataset)
        return stream.map(self._count, features=stream.features)

    def _count(self, row: dict[str, Any]) -> dict[str, Any]:
        self.yielded += 1
        return row


@dataclass
class FakeDownload:
    """Stands in for ``huggingface_hub.hf_hub_download``: records each call, returns a local zip."""

    file: Path
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.calls.append(dict(inspect.signature(REAL_HF_HUB_DOWNLOAD).bind(*args, **kwargs).arguments))
        return str(self.file)


def install_hub(monkeypatch: pytest.MonkeyPatch, source: str, files: dict[str, Path]) -> Any:
    """Put the stand-in for ``source``'s Hub call in place and return it."""
    if source in CAMEL:
        fake_download = FakeDownload(files[source])
        monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
        return fake_download
    fake = FakeLoadDataset(HUB[source].builder, files[source])
    monkeypatch.setattr(datasets, "load_dataset", fake)
    return fake


def assert_hub_call(fake: Any, source: str, *, split: str, streaming: bool) -> None:
    """The adapter made exactly one Hub call, for the real location of ``source``."""
    assert len(fake.calls) == 1, fake.calls
    arguments = dict(fake.calls[0])
    if source in CAMEL:
        subject = CAMEL[source]
        assert arguments == {
            "repo_id": f"camel-ai/{subject}",
            "filename": f"{subject}.zip",
            "repo_type": "dataset",
        }
        return
    layout = HUB[source]
    assert arguments.pop("streaming", False) is streaming
    expected: dict[str, Any] = {"path": layout.path, "split": split}
    if layout.data_files is not None:
        expected["data_files"] = {split: layout.data_files.format(split=split)}
    assert arguments == expected  # no ``name`` (config) for any source


def as_rows(loaded: LoadedSource) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return loaded.dataset.to_list(), loaded.stats.to_dict()


def hub_origin(caplog: pytest.LogCaptureFixture) -> str:
    """The origin ``load_with_stats`` logged for the load (the adapter's ``read_raw`` result)."""
    (record,) = [
        r for r in caplog.records if r.name == "thoughtmill.curation.sources.base" and "from" in r.msg
    ]
    return str(record.args[1])


def expected_origin(source: str, split: str = "train") -> str:
    """The dataset itself: the repo id, or the data files' URL for a builder spec (not "hub:json")."""
    if source in CAMEL:
        return f"hub:camel-ai/{CAMEL[source]}"
    layout = HUB[source]
    return f"hub:{layout.data_files.format(split=split)}" if layout.data_files else f"hub:{layout.path}"


# -- the recipe's sources ----------------------------------------------------------------------------


def test_every_adapter_has_a_hub_layout_and_the_recipe_reads_all_from_the_hub(
    recipe: dict[str, SourceSpec],
) -> None:
    assert set(HUB) | set(CAMEL) == set(SOURCES)
    assert set(recipe) == set(SOURCES)
    for spec in recipe.values():
        # What the tests below cover: no path (the Hub), the train split, no limit, no streaming.
        assert (spec.path, spec.split, spec.limit, spec.streaming) == (None, "train", None, False)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_recipe_source_from_the_hub_converts_like_the_local_file(
    source: str,
    recipe: dict[str, SourceSpec],
    hub_files: dict[str, Path],
    data: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = recipe[source]
    local = load_source(source, data / f"{fixture_name(source)}.jsonl", split=spec.split, **spec.options)
    fake = install_hub(monkeypatch, source, hub_files)
    with caplog.at_level(logging.INFO, logger="thoughtmill.curation.sources.base"):
        # The call the pipeline's sources stage makes (curation/pipeline/problems.py).
        hub = load_source(
            spec.name, spec.path, split=spec.split, limit=spec.limit, streaming=spec.streaming, **spec.options
        )
    assert_hub_call(fake, source, split="train", streaming=False)
    assert hub.stats.read == fixture_rows(data, source)
    assert hub.stats.kept > 0
    assert as_rows(hub) == as_rows(local)
    assert hub_origin(caplog) == expected_origin(source)


# -- streaming, limit, split --------------------------------------------------------------------------


@pytest.mark.parametrize("source", sorted(HUB))
def test_streaming_with_limit_pulls_only_limit_rows_from_the_hub(
    source: str,
    recipe: dict[str, SourceSpec],
    hub_files: dict[str, Path],
    data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    k = 3
    options = recipe[source].options
    total = fixture_rows(data, source)
    assert total > k + 1  # else reading k rows would not show that the rest was left unread
    local = make_source(source, **options).load_with_stats(data / f"{source}.jsonl", limit=k)
    fake = install_hub(monkeypatch, source, hub_files)
    hub = make_source(source, **options).load_with_stats(None, split="train", limit=k, streaming=True)
    assert_hub_call(fake, source, split="train", streaming=True)
    # ``IterableDataset.take`` pulls one row past the limit before it stops; never the whole stream.
    assert k <= fake.yielded <= k + 1
    assert hub.stats.read == k
    assert as_rows(hub) == as_rows(local)


def test_streaming_without_limit_reads_the_whole_stream(
    hub_files: dict[str, Path], data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = load_source("taco", data / "taco.jsonl")
    fake = install_hub(monkeypatch, "taco", hub_files)
    hub = load_source("taco", split="train", streaming=True)
    assert_hub_call(fake, "taco", split="train", streaming=True)
    assert fake.yielded == hub.stats.read == fixture_rows(data, "taco")
    assert as_rows(hub) == as_rows(local)


def test_streams_of_different_limits_are_not_confused(
    hub_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``materialise`` caches by the stream's fingerprint: a second, longer read must not get the first."""
    install_hub(monkeypatch, "apps", hub_files)
    short = load_source("apps", limit=2, streaming=True)
    longer = load_source("apps", limit=5, streaming=True)
    assert (short.stats.read, longer.stats.read) == (2, 5)


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("streaming", [False, True])
def test_limit_and_split_reach_the_hub_call(
    source: str,
    streaming: bool,
    hub_files: dict[str, Path],
    data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    k = 4
    split = "train" if source in CAMEL else "test"  # a CAMEL repo is one zip: only 'train' (below)
    local = load_source(source, data / f"{fixture_name(source)}.jsonl", limit=k)
    fake = install_hub(monkeypatch, source, hub_files)
    hub = load_source(source, split=split, limit=k, streaming=streaming)
    assert_hub_call(fake, source, split=split, streaming=streaming)
    assert hub.stats.read == k
    assert as_rows(hub) == as_rows(local)


@pytest.mark.parametrize("source", sorted(CAMEL))
def test_a_camel_split_other_than_train_is_refused_before_downloading(
    source: str, hub_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = install_hub(monkeypatch, source, hub_files)
    with pytest.raises(InputError, match=rf"'{source}': camel-ai/\w+ has only a 'train' split .*not 'test'"):
        load_source(source, split="test")
    assert fake.calls == [], "nothing downloaded"


# -- the Hub cannot be reached --------------------------------------------------------------------------


def hub_location(source: str, split: str) -> str:
    """What the error must name: the data files' URL, the repo id, or the CAMEL zip and repo."""
    if source in CAMEL:
        return f"{CAMEL[source]}.zip of dataset 'camel-ai/{CAMEL[source]}'"
    layout = HUB[source]
    return layout.data_files.format(split=split) if layout.data_files else repr(layout.path)


def cause_chain(exc: BaseException) -> Iterator[BaseException]:
    current: BaseException | None = exc
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


def assert_clear_hub_error(
    error: pytest.ExceptionInfo[InputError], source: str, split: str = "train"
) -> None:
    message = str(error.value)
    source_name = make_source(source).source_name
    assert f"source {source_name!r}" in message
    assert hub_location(source, split) in message
    assert "local path" in message and "load_source(name, path)" in message
    assert error.value.__cause__ is not None  # the original exception is chained, not swallowed


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("streaming", [False, True])
def test_offline_hub_is_an_input_error_that_says_what_to_do(source: str, streaming: bool) -> None:
    # The real ``datasets.load_dataset`` / ``hf_hub_download``, in offline mode with an empty cache.
    with pytest.raises(InputError) as error:
        load_source(source, split="train", streaming=streaming, limit=2 if streaming else None)
    assert_clear_hub_error(error, source)
    assert "HF_HUB_OFFLINE" in str(error.value)
    # ``datasets`` names OfflineModeIsEnabled in its ConnectionError's text for a repo id; the rest chain it.
    assert any(
        isinstance(e, OfflineModeIsEnabled) or "OfflineModeIsEnabled" in str(e)
        for e in cause_chain(error.value)
    )


def test_unreachable_network_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # What ``datasets`` raises for a repo id when the Hub does not answer (seen without offline mode).
    def unreachable(*args: Any, **kwargs: Any) -> Any:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except OSError as exc:
            raise ConnectionError(
                "Couldn't reach 'AI-MO/NuminaMath-CoT' on the Hub (LocalEntryNotFoundError)"
            ) from exc

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(InputError) as error:
        load_source("numina_math")
    assert_clear_hub_error(error, "numina_math")
    assert "ConnectionError: Couldn't reach" in str(error.value)


def test_unreachable_network_for_camel_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with pytest.raises(InputError) as error:
        load_source("camel_chemistry")
    assert_clear_hub_error(error, "camel_chemistry")


def test_connection_lost_while_streaming_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pulled: list[int] = []

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(2):
            pulled.append(i)
            yield {"question": "q" * 300, "solutions": "[]", "input_output": "{}", "starter_code": ""}
        raise ConnectionError("Connection reset by peer")

    def stream(*args: Any, **kwargs: Any) -> datasets.IterableDataset:
        return datasets.IterableDataset.from_generator(rows)

    monkeypatch.setattr(datasets, "load_dataset", stream)
    with pytest.raises(InputError) as error:
        load_source("apps", split="train", streaming=True)
    assert pulled == [0, 1]  # the failure came from the stream itself, after rows were read
    assert_clear_hub_error(error, "apps")
    assert "Connection reset by peer" in str(error.value)


@pytest.mark.parametrize("source", ["taco", "camel_biology"])
def test_missing_local_path_says_it_was_read_as_a_hub_id(source: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "data.jsonl"
    with pytest.raises(InputError) as error:
        load_source(source, missing)
    message = str(error.value)
    assert f"{str(missing)!r} is no local file or folder" in message
    assert make_source(source).source_name in message and "local path" in message


def test_errors_that_are_not_about_the_hub_pass_through(
    hub_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bug, not the network")

    monkeypatch.setattr(datasets, "load_dataset", broken)
    with pytest.raises(ValueError, match="a bug, not the network"):
        load_source("code_contests")

    def disk_full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(datasets, "load_dataset", disk_full)
    with pytest.raises(OSError, match="No space left"):  # as it is: a full local disk gets no Hub hint
        load_source("code_contests")
    # Hub data in the wrong layout is still reported as such, with the Hub origin.
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"question": "q" * 300}) + "\n")
    monkeypatch.setattr(datasets, "load_dataset", FakeLoadDataset("json", wrong))
    with pytest.raises(
        InputError, match=r"'apps' \(hub:hf://datasets/codeparrot/apps/train\.jsonl\).*'solutions'"
    ):
        load_source("apps")
