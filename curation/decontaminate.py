"""Benchmark decontamination: drop training problems that match an evaluation problem.

Two configurable tests, run against an index of the (small) benchmark side:
- ``fuzzy``: ``rapidfuzz.fuzz.ratio`` >= threshold (95, the published recipe) on normalised text;
  candidates come from MinHash-LSH buckets shared with a benchmark problem (``curation.similarity``), so
  173k rows are not compared with every benchmark problem.
- ``ngram``: any word n-gram (13 by default) shared with a benchmark problem, looked up in a sorted
  array of 64-bit n-gram hashes; it also catches a benchmark problem embedded in a longer text.
Counts are per benchmark (a row matching two benchmarks counts in both) plus the total dropped.
The dataset is read ``CHUNK_ROWS`` rows at a time and candidate pairs are verified in bounded
batches, so memory does not grow with the set (one flag per row excepted).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from thoughtmill.curation.datasets_io import read_batches, take_rows
from thoughtmill.curation.errors import ConfigError, InputError
from thoughtmill.curation.similarity import (
    BANDS,
    DEFAULT_THRESHOLD,
    PAIR_BATCH,
    ROWS,
    SHINGLE,
    band_keys,
    check_text_column,
    chunked_column,
    minhash_signatures,
    normalize,
    ratios_at_least,
    utf8_buffers,
)
from thoughtmill.curation.sources.local import read_local

from thoughtmill.benchmarks import BENCHMARKS, BenchmarkInfo, find_benchmark
from thoughtmill.hub import HubError, HubLocation, read_hub

log = logging.getLogger(__name__)

METHODS = ("fuzzy", "ngram", "both")
DEFAULT_NGRAM = 13
_MIX = np.uint64(0x9E3779B97F4A7C15)
_WORD_BASE = np.uint64(0x100000001B3)


@dataclass
class DecontaminationStats:
    """What decontamination dropped, per benchmark and in total, for the dataset card."""

    input: int = 0
    dropped: int = 0
    kept: int = 0
    method: str = "fuzzy"
    by_benchmark: dict[str, int] = field(default_factory=dict)
    benchmark_sizes: dict[str, int] = field(default_factory=dict)
    dropped_by_source: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- benchmark texts -------------------------------------------------------------------------------


def _texts_of(ds: datasets.Dataset, columns: Sequence[str], origin: str) -> list[str]:
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise InputError(f"benchmark {origin}: no column(s) {missing}; found {ds.column_names}")
    texts: list[str] = []
    for column in columns:
        texts.extend(t for t in ds[column] if isinstance(t, str) and t.strip())
    return texts


def load_benchmarks(
    names: Sequence[str] | None = None,
    *,
    local_files: Mapping[str, str | Path] | None = None,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, list[str]]:
    """Problem texts per benchmark (keyed by the names given): from ``local_files[name]`` when given,
    else from the benchmark's Hub data (streamed, text columns only). ``names`` defaults to every
    registered benchmark (``thoughtmill.benchmarks``, the list the evaluator uses).

    A name may be a registered benchmark in any spelling (``gpqa_diamond`` or ``GPQADiamond``), or any
    name with a local file. ``columns[name]`` overrides the text columns (a local file may use
    ``problem`` for any benchmark).
    """
    names = list(BENCHMARKS) if names is None else list(names)
    local_files = dict(local_files or {})
    columns = dict(columns or {})
    unknown = [n for n in names if find_benchmark(n) is None and n not in local_files]
    if unknown:
        raise ConfigError(
            f"unknown benchmark(s) {unknown}; expected one of {list(BENCHMARKS)} "
            "(any spelling: aime24 = AIME24) or a name with a local file"
        )
    out: dict[str, list[str]] = {}
    for name in names:
        info = find_benchmark(name)
        if name in local_files:
            path = Path(local_files[name])
            if not path.exists():
                raise InputError(f"benchmark {name!r}: local file {path} does not exist")
            ds = read_local(path, source=f"benchmark:{name}")
            wanted = tuple(columns.get(name) or _local_columns(ds, info))
            out[name] = _texts_of(ds, wanted, f"{name!r} ({path})")
        else:
            assert info is not None
            copies = info.decontamination_sources()
            texts = (
                t for loc, cols in copies for t in _hub_texts(name, loc, tuple(columns.get(name) or cols))
            )
            out[name] = list(dict.fromkeys(texts))  # a problem in two copies is one problem
    return out


def _hub_texts(name: str, location: HubLocation, wanted: tuple[str, ...]) -> list[str]:
    """The problem texts of one Hub copy of a benchmark (streamed, text columns only)."""
    try:
        ds = read_hub(location, streaming=True, columns=wanted)
    except HubError as exc:
        hint = "give its local file (`local_files:` of the decontaminate stage, or load_benchmarks)"
        raise InputError(exc.explain(f"benchmark {name!r}", hint)) from exc
    return _texts_of(ds, wanted, f"{name!r} (hub:{location.short()})")


def _local_columns(ds: datasets.Dataset, info: BenchmarkInfo | None) -> tuple[str, ...]:
    if info is not None and all(c in ds.column_names for c in info.text_columns):
        return info.text_columns
    for candidate in ("problem", "question", "Problem", "Question", "question_content"):
        if candidate in ds.column_names:
            return (candidate,)
    return info.text_columns if info is not None else ("problem",)


# -- n-grams ---------------------------------------------------------------------------------------


def ngram_hashes(texts: pa.Array, n: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every word n-gram of each (normalised) text, and the row each belongs to.

    Words are runs of letters/digits. A text with fewer than ``n`` words gives one hash of all its words.
    """
    words_only = pc.utf8_trim_whitespace(
        pc.replace_substring_regex(texts, pattern=r"[^\p{L}\p{N}]+", replacement=" ")
    )
    data, offsets = utf8_buffers(words_only)
    if len(data) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    # Word starts: a row start with a non-empty row, or the byte after a space.
    row_nonempty = np.diff(offsets) > 0
    is_space = data == 0x20
    start_mask = np.zeros(len(data), dtype=bool)
    start_mask[1:] = is_space[:-1]
    start_mask[offsets[:-1][row_nonempty]] = True
    start_mask &= ~is_space
    word_starts = np.flatnonzero(start_mask)
    # Polynomial hash of each word's bytes (spaces contribute nothing).
    position = np.arange(len(data)) - np.repeat(word_starts, np.diff(np.append(word_starts, len(data))))
    max_len = int(position.max()) + 1
    powers = np.cumprod(np.full(max_len, _WORD_BASE, dtype=np.uint64))
    contrib = np.where(is_space, np.uint64(0), (data.astype(np.uint64) + np.uint64(1)) * powers[position])
    words = np.add.reduceat(contrib, word_starts)
    words = (words ^ (words >> np.uint64(29))) * _MIX
    word_row = np.searchsorted(offsets, word_starts, side="right") - 1
    # n consecutive words of the same row.
    count = len(words)
    hashes = []
    rows = []
    if count >= n:
        span = count - n + 1
        gram = np.zeros(span, dtype=np.uint64)
        for t in range(n):
            gram = (gram * _MIX) ^ words[t : t + span]
        same_row = word_row[:span] == word_row[n - 1 : n - 1 + span]
        hashes.append(gram[same_row])
        rows.append(word_row[:span][same_row])
    words_per_row = np.bincount(word_row, minlength=len(offsets) - 1)
    short = np.flatnonzero((words_per_row > 0) & (words_per_row < n))
    if len(short):
        whole = np.zeros(len(short), dtype=np.uint64)
        first = np.searchsorted(word_row, short, side="left")
        for t in range(int(words_per_row[short].max())):
            has = t < words_per_row[short]
            whole[has] = (whole[has] * _MIX) ^ words[first[has] + t]
        hashes.append(whole ^ np.uint64(n))
        rows.append(short)
    if not hashes:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    return np.concatenate(hashes), np.concatenate(rows).astype(np.int64)


# -- the stage -------------------------------------------------------------------------------------

CHUNK_ROWS = 4_096


class BenchmarkIndex:
    """One benchmark's texts, band keys (sorted per band) and n-gram hashes, built once."""

    def __init__(self, texts: pa.Array, *, bands: int, rows: int, seed: int, ngram: int) -> None:
        self.texts = texts.to_pylist()
        self.bands, self.rows, self.seed, self.ngram = bands, rows, seed, ngram
        keys = band_keys(
            minhash_signatures(texts, num_perm=bands * rows, shingle=SHINGLE, seed=seed), bands, rows
        )
        self.order = np.argsort(keys, axis=0, kind="stable")
        self.sorted_keys = np.take_along_axis(keys, self.order, axis=0)
        self.ngrams = np.unique(ngram_hashes(texts, ngram)[0])

    def fuzzy_hits(self, texts: list[str], keys: np.ndarray, threshold: float) -> np.ndarray:
        """Mask of chunk rows with ``fuzz.ratio`` >= threshold to a benchmark text sharing a bucket."""
        hit = np.zeros(len(texts), dtype=bool)
        for band in range(self.bands):
            column = self.sorted_keys[:, band]
            lo = np.searchsorted(column, keys[:, band], side="left")
            counts = np.searchsorted(column, keys[:, band], side="right") - lo
            todo = np.flatnonzero((counts > 0) & ~hit)
            # Slices of rows whose pairs number at most PAIR_BATCH (one row's bucket may exceed it alone).
            ends = np.cumsum(counts[todo])
            start = 0
            while start < len(todo):
                stop = max(
                    start + 1,
                    int(np.searchsorted(ends, ends[start] - counts[todo[start]] + PAIR_BATCH, "right")),
                )
                part = todo[start:stop]
                reps = counts[part]
                left = np.repeat(part, reps)
                offsets = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
                right = self.order[np.repeat(lo[part], reps) + offsets, band]
                ok = ratios_at_least(
                    [texts[i] for i in left.tolist()], [self.texts[j] for j in right.tolist()], threshold
                )
                hit[left[ok]] = True
                start = stop
        return hit

    def ngram_hits(self, texts: pa.Array) -> np.ndarray:
        """Mask of chunk rows sharing a word n-gram with the benchmark."""
        hashes, rows = ngram_hashes(texts, self.ngram)
        hit = np.zeros(len(texts), dtype=bool)
        hit[rows[np.isin(hashes, self.ngrams)]] = True
        return hit


def decontaminate(
    ds: datasets.Dataset,
    benchmarks: Mapping[str, Sequence[str]],
    *,
    column: str = "problem",
    method: str = "fuzzy",
    threshold: float = DEFAULT_THRESHOLD,
    ngram: int = DEFAULT_NGRAM,
    bands: int = BANDS,
    rows: int = ROWS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[datasets.Dataset, DecontaminationStats]:
    """Drop rows of ``ds`` matching any benchmark text (see ``load_benchmarks``); return kept rows + counts.

    ``progress(done, total)`` is told the rows checked so far."""
    if method not in METHODS:
        raise ConfigError(f"decontamination method must be one of {METHODS}, got {method!r}")
    if not 0 < threshold <= 100:
        raise ConfigError(f"decontamination threshold must be in (0, 100], got {threshold}")
    if ngram < 1:
        raise ConfigError(f"n-gram size must be >= 1, got {ngram}")
    started = time.perf_counter()
    stats = DecontaminationStats(input=len(ds), method=method)
    if len(ds) == 0:
        return ds, stats
    check_text_column(ds, column)
    indexes: dict[str, BenchmarkIndex] = {}
    for name, problems in benchmarks.items():
        stats.benchmark_sizes[name] = len(problems)
        stats.by_benchmark[name] = 0
        if problems:
            bench = normalize(pa.array(list(problems), pa.string()))
            indexes[name] = BenchmarkIndex(bench, bands=bands, rows=rows, seed=seed, ngram=ngram)
    contaminated = np.zeros(len(ds), dtype=bool)
    start = 0
    for batch in read_batches(ds, CHUNK_ROWS, [column]):  # plain file reads, not the memory map
        texts = normalize(pc.fill_null(batch.column(0), ""))
        strings = texts.to_pylist() if method in ("fuzzy", "both") else []
        keys = (
            band_keys(
                minhash_signatures(texts, num_perm=bands * rows, shingle=SHINGLE, seed=seed), bands, rows
            )
            if strings
            else None
        )
        for name, index in indexes.items():
            hit = np.zeros(len(texts), dtype=bool)
            if keys is not None:
                hit |= index.fuzzy_hits(strings, keys, threshold)
            if method in ("ngram", "both"):
                hit |= index.ngram_hits(texts)
            stats.by_benchmark[name] += int(hit.sum())
            contaminated[start : start + len(texts)] |= hit
        start += len(texts)
        if progress is not None:
            progress(start, len(ds))
    keep = np.flatnonzero(~contaminated)
    stats.dropped = int(contaminated.sum())
    stats.kept = len(keep)
    if stats.dropped and "source" in ds.column_names:
        sources = take_rows(chunked_column(ds, "source"), np.flatnonzero(contaminated))
        stats.dropped_by_source = {i["values"].as_py(): i["counts"].as_py() for i in pc.value_counts(sources)}
    stats.seconds = round(time.perf_counter() - started, 3)
    log.info("decontamination: %s", stats.to_dict())
    return (ds.select(keep.tolist()) if stats.dropped else ds), stats
