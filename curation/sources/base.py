"""The shape every source adapter shares: read raw rows, check them, map to the uniform schema, count drops.

An adapter only says how one raw row becomes one uniform row (or why it is dropped). Reading (hub or
local file), the column checks, the single batched ``Dataset.map`` pass, the per-reason drop counts and
the final ``filter`` live here, so every source reports its filters the same way for the dataset card.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import datasets
import pyarrow as pa
import pyarrow.compute as pc
from huggingface_hub.errors import EntryNotFoundError, HFValidationError
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.schema import DOMAINS, PROBLEM_COLUMNS, problem_id
from thoughtmill.curation.sources.arrow import arrow_column

log = logging.getLogger(__name__)

#: The column a converter writes to say why a row is dropped ("" keeps the row).
DROP = "_drop"

#: Local file suffixes and the ``datasets`` builder that reads them.
LOCAL_BUILDERS = {
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".csv": "csv",
}

UNIFORM_FEATURES = datasets.Features({c: datasets.Value("string") for c in PROBLEM_COLUMNS})


@dataclass
class SourceStats:
    """What one source load read, dropped (per filter, first failing filter wins) and kept."""

    source: str
    read: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    kept: int = 0

    def drop(self, reason: str, count: int) -> None:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(count)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "read": self.read, "dropped": dict(self.dropped), "kept": self.kept}


class LoadedSource(NamedTuple):
    """A loaded source: the uniform dataset and the counts of what its filters dropped."""

    dataset: datasets.Dataset
    stats: SourceStats


@dataclass(frozen=True)
class HubSpec:
    """Where a source lives on the Hub: a repo id, or a builder ("json", "arrow", ...) with data files."""

    path: str
    name: str | None = None
    data_files: Mapping[str, str | list[str]] | None = None


class Source:
    """Base class of a source adapter. Subclasses set the class attributes and write ``convert_row``."""

    name: ClassVar[str]
    domain: ClassVar[str]
    #: Raw columns the adapter reads; a file without one is an InputError.
    required_columns: ClassVar[tuple[str, ...]] = ()
    #: Raw columns where a null value is an InputError naming the row (the problem text, usually).
    not_null_columns: ClassVar[tuple[str, ...]] = ()
    #: Internal columns (prefixed "_") a converter adds for ``postprocess``; removed before returning.
    extra_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, num_proc: int | None = None, batch_size: int = 1000) -> None:
        self.num_proc = num_proc
        self.batch_size = batch_size
        self.stats = SourceStats(self.source_name)

    # -- what subclasses provide ------------------------------------------------------------------

    @property
    def source_name(self) -> str:
        """The value of the ``source`` column (an adapter serving several subsets may override it)."""
        return self.name

    def hub_spec(self, split: str) -> HubSpec:
        """Where the real dataset lives on the Hub."""
        raise NotImplementedError

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """Map one raw row to problem, ground_truth_solution, test_cases, starter_code and ``_drop``."""
        raise NotImplementedError

    def postprocess(self, ds: datasets.Dataset, stats: SourceStats) -> datasets.Dataset:
        """Steps that need the whole filtered set (grouping, seeded sampling). Default: none."""
        return ds

    # -- loading ----------------------------------------------------------------------------------

    def load(
        self,
        path_or_hub: str | Path | None = None,
        *,
        split: str = "train",
        limit: int | None = None,
        streaming: bool = False,
    ) -> datasets.Dataset:
        """Load the source in the uniform schema; the drop counts are left on ``self.stats``."""
        return self.load_with_stats(path_or_hub, split=split, limit=limit, streaming=streaming).dataset

    def load_with_stats(
        self,
        path_or_hub: str | Path | None = None,
        *,
        split: str = "train",
        limit: int | None = None,
        streaming: bool = False,
    ) -> LoadedSource:
        """Load, check, convert and filter; return the uniform dataset and what each filter dropped."""
        assert self.domain in DOMAINS, self.domain
        raw, origin = self.read_raw(path_or_hub, split=split, limit=limit, streaming=streaming)
        self.check_columns(raw, origin)
        stats = SourceStats(self.source_name, read=len(raw))
        converted = raw.map(
            self._convert_batch,
            batched=True,
            batch_size=self.batch_size,
            with_indices=True,
            remove_columns=raw.column_names,
            features=self._converted_features(),
            num_proc=self.num_proc,
            desc=f"{self.source_name}: convert",
        )
        for reason, count in _value_counts(converted, DROP).items():
            if reason:
                stats.drop(reason, count)
        kept = converted.filter(
            _keep_batch, batched=True, batch_size=10_000, input_columns=[DROP], num_proc=self.num_proc
        )
        kept = self.postprocess(kept, stats)
        kept = kept.remove_columns([c for c in kept.column_names if c not in PROBLEM_COLUMNS])
        kept = kept.select_columns(list(PROBLEM_COLUMNS))
        stats.kept = len(kept)
        self.stats = stats
        log.info("source %s from %s: %s", self.source_name, origin, stats.to_dict())
        return LoadedSource(kept, stats)

    def read_raw(
        self, path_or_hub: str | Path | None, *, split: str, limit: int | None, streaming: bool
    ) -> tuple[datasets.Dataset, str]:
        """Read the raw rows from a local file/directory or the Hub; return them and where they came from."""
        target = path_or_hub if path_or_hub is not None else None
        if target is not None and Path(target).exists():
            ds = read_local(Path(target), source=self.source_name)
            origin = str(target)
        else:
            spec = self.hub_spec(split) if target is None else HubSpec(str(target))
            ds = read_hub(
                spec, split=split, limit=limit, streaming=streaming, source=self.source_name, requested=target
            )
            origin = f"hub:{hub_location(spec, split)}"
        if limit is not None and len(ds) > limit:
            ds = ds.select(range(limit))
        return ds, origin

    def check_columns(self, raw: datasets.Dataset, origin: str) -> None:
        """Fail loudly, naming source, file, row and column, when the raw layout is not the real one."""
        missing = [c for c in self.required_columns if c not in raw.column_names]
        if missing:
            raise InputError(
                f"source {self.source_name!r} ({origin}): every row lacks the column(s) {missing}; "
                f"expected the real layout with columns {list(self.required_columns)}, "
                f"found {raw.column_names}"
            )
        for column in self.not_null_columns:
            nulls = pc.is_null(arrow_column(raw, column))
            if pc.any(nulls).as_py():
                row = pc.index(nulls, True).as_py()
                raise InputError(
                    f"source {self.source_name!r} ({origin}): row {row} has no value in the required "
                    f"column {column!r} (expected a string)"
                )

    # -- internals --------------------------------------------------------------------------------

    def _converted_features(self) -> datasets.Features:
        cols = {c: datasets.Value("string") for c in PROBLEM_COLUMNS}
        cols[DROP] = datasets.Value("string")
        for c in self.extra_columns:
            cols[c] = datasets.Value("string")
        return datasets.Features(cols)

    def _convert_batch(self, batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {c: [] for c in (*PROBLEM_COLUMNS, DROP, *self.extra_columns)}
        keys = list(batch)
        for index, values in zip(indices, zip(*(batch[k] for k in keys)), strict=True):
            row = dict(zip(keys, values, strict=True))
            try:
                mapped = self.convert_row(row)
            except InputError:
                raise
            except (KeyError, TypeError, AttributeError) as exc:
                raise InputError(
                    f"source {self.source_name!r}: row {index} does not have the expected layout ({exc!r})"
                ) from exc
            problem = mapped.get("problem") or ""
            out["id"].append(problem_id(self.source_name, problem))
            out["problem"].append(problem)
            out["domain"].append(self.domain)
            out["source"].append(self.source_name)
            for column in ("ground_truth_solution", "test_cases", "starter_code"):
                out[column].append(mapped.get(column) or "")
            out[DROP].append(mapped.get(DROP, ""))
            for column in self.extra_columns:
                out[column].append(mapped.get(column) or "")
        return out


def _keep_batch(reasons: list[str]) -> list[bool]:
    return [not r for r in reasons]


def _value_counts(ds: datasets.Dataset, column: str) -> dict[str, int]:
    """Count each value of a string column without turning rows into Python objects."""
    if len(ds) == 0:
        return {}
    counts = pc.value_counts(arrow_column(ds, column))
    return {item["values"].as_py(): item["counts"].as_py() for item in counts}


#: Bytes of JSON Lines the ``json`` builder reads per step. Its default (10 MB) also parses the whole
#: first step into Python objects (its mixed-type scan): ~130 MB held while reading any file over 10 MB.
JSON_CHUNK_BYTES = 2 << 20


def _builder_options(builder: str) -> dict[str, Any]:
    return {"chunksize": JSON_CHUNK_BYTES} if builder == "json" else {}


def read_local(path: Path, *, source: str) -> datasets.Dataset:
    """Read a local file or directory (jsonl/json/parquet/arrow/csv, or a ``save_to_disk`` folder)."""
    if path.is_dir():
        if (path / "state.json").exists() or (path / "dataset_info.json").exists():
            return datasets.load_from_disk(str(path))
        for suffix, builder in LOCAL_BUILDERS.items():
            files = sorted(str(p) for p in path.rglob(f"*{suffix}"))
            if files:
                return datasets.load_dataset(
                    builder, data_files=files, split="train", **_builder_options(builder)
                )
        raise InputError(f"source {source!r}: directory {path} holds no {sorted(LOCAL_BUILDERS)} files")
    builder = LOCAL_BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise InputError(
            f"source {source!r}: cannot read {path}: expected one of {sorted(LOCAL_BUILDERS)} files"
        )
    try:
        return datasets.load_dataset(
            builder, data_files=str(path), split="train", **_builder_options(builder)
        )
    except datasets.exceptions.DatasetGenerationError as exc:
        raise InputError(
            f"source {source!r}: {path} is not a valid {builder} file: {exc.__cause__!r}"
        ) from exc


def read_hub(
    spec: HubSpec,
    *,
    split: str,
    limit: int | None,
    streaming: bool,
    source: str | None = None,
    requested: str | Path | None = None,
) -> datasets.Dataset:
    """Read from the Hub. ``streaming`` reads lazily (only ``limit`` rows when given) into an Arrow file.

    A Hub that cannot be reached (offline, no network, a missing or gated dataset) is an InputError
    naming ``source``, the Hub location and how to go on; ``requested`` is the path the caller gave,
    named in the error because it was no local file and so was read as a Hub id.
    """
    kwargs: dict[str, Any] = {"split": split}
    if spec.name:
        kwargs["name"] = spec.name
    if spec.data_files:
        kwargs["data_files"] = dict(spec.data_files)
    try:
        if not streaming:
            return datasets.load_dataset(spec.path, **kwargs)
        stream = datasets.load_dataset(spec.path, streaming=True, **kwargs)
        if limit is not None:
            stream = stream.take(limit)
        return materialise(stream)
    except Exception as exc:
        failure = hub_failure(exc)
        if failure is None:
            raise
        raise hub_error(source, describe_hub(spec, split), failure, requested=requested) from exc


#: Top-level packages of the HTTP clients under ``huggingface_hub``/``fsspec``: their network errors
#: (httpx's ``ConnectError``, for one) do not all derive from OSError.
_HTTP_PACKAGES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3", "aiohttp"})


#: OSErrors about the local disk (the Arrow cache filling up while a stream is written, say).
_LOCAL_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def hub_failure(exc: BaseException) -> BaseException | None:
    """The exception in ``exc``'s cause chain that says the Hub, or the data on it, could not be read.

    ``datasets`` re-raises network failures as ``ConnectionError``/``FileNotFoundError`` and wraps those
    of a streamed read in ``DatasetGenerationError``, so the whole chain is inspected.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _LOCAL_DISK_ERRORS:
            return None  # this machine's disk, not the Hub: the hint would mislead
        if isinstance(current, (OSError, EntryNotFoundError, HFValidationError)):
            return current  # OSError covers HfHubHTTPError, OfflineModeIsEnabled, DatasetNotFoundError
        if type(current).__module__.partition(".")[0] in _HTTP_PACKAGES:
            return current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return None


def hub_location(spec: HubSpec, split: str) -> str:
    """The dataset a HubSpec names, short: its first data file's URL for a builder spec, else the repo id."""
    if spec.data_files:
        files = spec.data_files.get(split) or next(iter(spec.data_files.values()))
        return files if isinstance(files, str) else files[0]
    return spec.path


def describe_hub(spec: HubSpec, split: str) -> str:
    """Where a HubSpec reads from, for messages: the data files' URLs, or the repo id and config."""
    if spec.data_files:
        files = spec.data_files.get(split) or [str(f) for f in spec.data_files.values()]
        urls = files if isinstance(files, str) else ", ".join(files)
        return f"{urls} ({spec.path} files, split {split!r})"
    config = f", config {spec.name!r}" if spec.name else ""
    return f"dataset {spec.path!r}{config}, split {split!r},"


def hub_error(
    source: str | None, where: str, failure: BaseException, *, requested: str | Path | None = None
) -> InputError:
    """The InputError for a Hub read that failed: which source, what was read, why, and what to do."""
    reason = (str(failure).strip().splitlines() or [""])[0]
    not_local = (
        f"{str(requested)!r} is no local file or folder, so it was read as a Hub dataset id; "
        if requested is not None
        else ""
    )
    return InputError(
        f"source {source or 'hub'!r}: {not_local}cannot read {where} from the Hugging Face Hub "
        f"({type(failure).__name__}: {reason}). Check the network connection and Hub access (log in or set "
        "HF_TOKEN for a gated dataset; with HF_HUB_OFFLINE=1 only data already in the cache can be read), "
        "or download the data and pass its local path (`path:` of the source in the pipeline config, "
        "or load_source(name, path))."
    )


def materialise(stream: datasets.IterableDataset) -> datasets.Dataset:
    """Write a streamed dataset to an on-disk Arrow file (rows are never all held in memory)."""

    def rows() -> Iterator[dict[str, Any]]:
        yield from stream

    return datasets.Dataset.from_generator(rows, features=stream.features)


def first_occurrences(column: pa.ChunkedArray | pa.Array) -> list[int]:
    """Indices of the first row holding each distinct value, in row order (columnar, no row objects)."""
    import numpy as np

    if len(column) == 0:
        return []
    encoded = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)
    first.sort()
    return first.tolist()
