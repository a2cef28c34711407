"""The shape every source adapter shares: read raw rows, check them, map to the uniform schema, count drops.

An adapter only says how one raw row becomes one uniform row (or why it is dropped). Reading (hub or
local file), the column checks, the single batched ``Dataset.map`` pass, the per-reason drop counts and
the final ``filter`` live here, so every source reports its filters the same way for the dataset card.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import datasets
import pyarrow as pa
import pyarrow.compute as pc
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.judges.registry import DOMAINS
from thoughtmill.curation.schema import PROBLEM_COLUMNS, problem_id
from thoughtmill.curation.sources.arrow import arrow_column
from thoughtmill.curation.sources.local import read_local

from thoughtmill.hub import HubError, HubLocation, read_hub

log = logging.getLogger(__name__)

#: The column a converter writes to say why a row is dropped ("" keeps the row).
DROP = "_drop"

#: How to go on when the Hub cannot be read, said in every source's Hub error.
LOCAL_HINT = "pass its local path (`path:` of the source in the pipeline config, or load_source(name, path))"

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

    def hub(self, split: str) -> HubLocation:
        """Where the real dataset's ``split`` lives on the Hub."""
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
        if path_or_hub is not None and Path(path_or_hub).exists():
            return first_rows(read_local(Path(path_or_hub), source=self.source_name), limit), str(path_or_hub)
        location = self.hub(split) if path_or_hub is None else HubLocation(str(path_or_hub), split)
        try:
            ds = read_hub(location, limit=limit, streaming=streaming)
        except HubError as exc:
            raise self.hub_input_error(exc, requested=path_or_hub) from exc
        return first_rows(ds, limit), f"hub:{location.short()}"

    def hub_input_error(self, error: HubError, *, requested: str | Path | None) -> InputError:
        """The InputError for a Hub read of this source that failed: what, why and what to do."""
        return InputError(error.explain(f"source {self.source_name!r}", LOCAL_HINT, requested=requested))

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


def first_rows(ds: datasets.Dataset, limit: int | None) -> datasets.Dataset:
    """The first ``limit`` rows of ``ds`` (all of them when ``limit`` is None)."""
    return ds.select(range(limit)) if limit is not None and len(ds) > limit else ds


def _keep_batch(reasons: list[str]) -> list[bool]:
    return [not r for r in reasons]


def _value_counts(ds: datasets.Dataset, column: str) -> dict[str, int]:
    """Count each value of a string column without turning rows into Python objects."""
    if len(ds) == 0:
        return {}
    counts = pc.value_counts(arrow_column(ds, column))
    return {item["values"].as_py(): item["counts"].as_py() for item in counts}


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
