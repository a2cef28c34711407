"""Near-duplicate removal by fuzzy ratio, scaled past all-pairs with MinHash-LSH blocking.

The published recipe compares every problem with every other (``rapidfuzz.fuzz.ratio`` >= 95): 173k
rows make 1.5e10 pairs. Here the ratio is only computed for candidate pairs: texts are normalised
(lower case, whitespace collapsed), exact copies removed by hash, then MinHash signatures over byte
5-grams (numpy, columnar over the Arrow buffers) are banded; rows sharing a band bucket are candidates,
and each candidate pair is verified with the same fuzzy ratio. A row is dropped when it matches an
earlier row (the published rule). Blocking can miss a pair the all-pairs loop would find (rarely, for
pairs at the threshold with edits spread evenly); ``bands``/``rows`` trade recall for speed.

Memory is bounded whatever the data: texts are normalised in chunks (only keys, lengths and a digest
per row stay), candidate pairs are produced band by band and verified in batches of ``PAIR_BATCH``
with "earlier row wins" applied as they go, and an oversized bucket is verified in tiles.

On a cluster the signatures (the costly, row-local part) are computed per shard of rows wherever an
executor runs them (`SignatureShard`, ``map_shards``); the bands of every shard are then merged and
searched as one, so a near duplicate is found whichever shards its two rows fell in.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process
from thoughtmill.curation.datasets_io import read_batches, take_rows
from thoughtmill.curation.errors import ConfigError
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
)

log = logging.getLogger(__name__)
ProgressFn = Callable[[int, int], None]  # told (rows done, rows in all) as the work goes

#: Buckets larger than this are split by further bands, then verified as a block (in tiles).
MAX_PAIR_BUCKET = 64
#: Pairs whose texts are fetched and compared at once (bounds the texts held, whatever the set size).
VERIFY_SLICE = 4096
BLOCK = 512
_CHUNK_ROWS = 4096


@dataclass
class DedupStats:
    """Counts of one deduplication pass, for the dataset card."""

    input: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    kept: int = 0
    candidate_pairs: int = 0
    verified_pairs: int = 0
    dropped_by_source: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class TextFetcher:
    """Normalised texts of any rows, fetched on demand from the (memory-mapped) column.

    Holding every normalised text would cost anonymous memory linear in the set; a batch of candidate
    pairs needs only its own rows' texts.
    """

    def __init__(
        self, column: pa.ChunkedArray | pa.Array | MappedColumn, rows: np.ndarray | None = None
    ) -> None:
        self.column = column
        self.rows = rows

    def __call__(self, idx: np.ndarray) -> list[str]:
        positions = np.asarray(self.rows[idx] if self.rows is not None else idx, dtype=np.int64)
        if isinstance(self.column, pa.ChunkedArray):
            taken = take_rows(self.column, positions)  # Arrow's take would first copy the whole column
        else:
            taken = self.column.take(pa.array(positions, pa.int64()))
        if isinstance(taken, pa.ChunkedArray):
            taken = taken.combine_chunks() if taken.num_chunks else pa.array([], pa.string())
        return normalize(pc.fill_null(taken, "")).to_pylist()


class NearDuplicateFinder:
    """Applies "a row matching an earlier row is dropped" to candidate pairs as they are produced.

    Pairs are buffered up to ``PAIR_BATCH``, de-duplicated and verified together. A pair whose later
    row is already dropped is never verified (one match settles that row). A non-matching pair that
    shares buckets in several bands may be verified once per band; on realistic and on degenerate
    texts that is ~4% of the work, cheaper than remembering every failed pair. Memory is therefore
    bounded whatever the buckets look like.
    """

    def __init__(
        self,
        fetch: TextFetcher,
        lengths: np.ndarray,
        threshold: float,
        groups: np.ndarray | None,
        stats: DedupStats,
    ) -> None:
        self.fetch = fetch
        self.lengths = lengths
        self.threshold = threshold
        self.groups = groups
        self.stats = stats
        self.n = len(lengths)
        self.dropped = np.zeros(self.n, dtype=bool)
        self._pending: list[np.ndarray] = []
        self._pending_size = 0
        self._blocks_done: set[bytes] = set()

    def add(self, left: np.ndarray, right: np.ndarray) -> None:
        """Queue pairs (``left`` < ``right``, element-wise) for verification."""
        keep = ~self.dropped[right]
        keep &= 200.0 * np.minimum(self.lengths[left], self.lengths[right]) >= self.threshold * np.maximum(
            self.lengths[left] + self.lengths[right], 1
        )  # the ratio can't beat this length bound
        if self.groups is not None:
            keep &= self.groups[left] == self.groups[right]
        if not keep.any():
            return
        self._pending.append(left[keep].astype(np.int64) * self.n + right[keep])
        self._pending_size += int(keep.sum())
        if self._pending_size >= PAIR_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        codes = _sorted_unique(np.concatenate(self._pending))
        self._pending, self._pending_size = [], 0
        codes = codes[~self.dropped[codes % self.n]]
        if len(codes) == 0:
            return
        self.stats.candidate_pairs += len(codes)
        # Verified in slices of VERIFY_SLICE pairs: each slice fetches only its own rows' texts (a whole
        # batch of pairs touches up to 2 * PAIR_BATCH rows, i.e. most of a 173k set's texts at once).
        # Codes are sorted, so a slice's pairs share their earlier rows. Filtered by ``dropped`` once
        # above, as before: the same pairs are verified and the same rows dropped.
        for start in range(0, len(codes), VERIFY_SLICE):
            part = codes[start : start + VERIFY_SLICE]
            left, right = part // self.n, part % self.n
            rows, inverse = np.unique(np.concatenate((left, right)), return_inverse=True)
            texts = self.fetch(rows)
            a = [texts[k] for k in inverse[: len(part)].tolist()]
            b = [texts[k] for k in inverse[len(part) :].tolist()]
            del texts
            hit = ratios_at_least(a, b, self.threshold)
            self.stats.verified_pairs += int(hit.sum())
            self.dropped[right[hit]] = True

    def block(self, members: np.ndarray) -> None:
        """Verify every pair of an oversized bucket, tile by tile (``BLOCK`` x ``BLOCK`` ratios at once)."""
        members = np.sort(members)
        digest = hashlib.blake2b(members.tobytes(), digest_size=16).digest()
        if digest in self._blocks_done:  # the same bucket in another band
            return
        self._blocks_done.add(digest)
        self.flush()
        for r0 in range(0, len(members), BLOCK):
            later = members[r0 : r0 + BLOCK]
            later = later[~self.dropped[later]]
            if len(later) == 0:
                continue
            later_texts = self.fetch(later)
            found = np.zeros(len(later), dtype=bool)
            for c0 in range(0, r0 + BLOCK, BLOCK):
                earlier = members[c0 : min(c0 + BLOCK, r0 + BLOCK)]
                scores = process.cdist(
                    later_texts,
                    self.fetch(earlier),
                    scorer=fuzz.ratio,
                    score_cutoff=self.threshold,
                    dtype=np.float32,
                )
                ok = (scores >= self.threshold) & (earlier[None, :] < later[:, None])
                if self.groups is not None:
                    ok &= self.groups[earlier][None, :] == self.groups[later][:, None]
                self.stats.candidate_pairs += int((earlier[None, :] < later[:, None]).sum())
                self.stats.verified_pairs += int(ok.sum())
                found |= ok.any(axis=1)
            self.dropped[later[found]] = True


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy's hash-based unique is several times slower on int64 codes)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    return starts, np.diff(np.concatenate((starts, [len(sorted_keys)])))


def _emit_runs(
    order: np.ndarray, sorted_keys: np.ndarray, max_bucket: int, finder: NearDuplicateFinder
) -> list[np.ndarray]:
    """Hand the pairs of every run of equal keys up to ``max_bucket`` to the finder (at most
    ``PAIR_BATCH`` pairs materialised at once); return the larger runs."""
    starts, sizes = _runs(sorted_keys)
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= max_bucket)]).tolist():
        left, right = np.triu_indices(size, 1)
        run_starts = starts[sizes == size]
        step = max(1, PAIR_BATCH // len(left))
        for k in range(0, len(run_starts), step):
            members = order[run_starts[k : k + step][:, None] + np.arange(size)]
            i, j = members[:, left].ravel(), members[:, right].ravel()
            finder.add(np.minimum(i, j), np.maximum(i, j))
    big = sizes > max_bucket
    return [order[s : s + z] for s, z in zip(starts[big], sizes[big], strict=True)]


def find_near_duplicates(
    keys: np.ndarray, finder: NearDuplicateFinder, max_bucket: int = MAX_PAIR_BUCKET, refine: int = 3
) -> np.ndarray:
    """Rows matching an earlier row in some shared LSH bucket, band by band (mask over ``keys`` rows).

    A bucket over ``max_bucket`` rows (texts whose minima all come from very common shingles) is split
    by the next bands' keys, up to ``refine`` times, so its members are paired only when they also agree
    elsewhere; what is still oversized is verified as a block, in tiles.
    """
    bands = keys.shape[1]
    for band in range(bands):
        order = np.argsort(keys[:, band], kind="stable")
        large = _emit_runs(order, keys[order, band], max_bucket, finder)
        for depth in range(1, min(refine, bands - 1) + 1):
            still_large: list[np.ndarray] = []
            for members in large:
                sub = keys[members, (band + depth) % bands]
                inner = np.argsort(sub, kind="stable")
                still_large += _emit_runs(members[inner], sub[inner], max_bucket, finder)
            large = still_large
        finder.flush()
        for members in large:
            finder.block(members)
    finder.flush()
    return finder.dropped


# -- the stage -------------------------------------------------------------------------------------


class MappedColumn:
    """A string column of ``ds`` read lazily through its indices mapping (``filter``/``select``).

    ``arrow_column`` would gather the whole column into anonymous memory first (every text, for a
    173k set ~115 MB); here only a batch's rows are gathered, chunk by chunk, from the memory-mapped
    table (a plain ``take`` would copy the whole column on every call). Random gathers go through the
    map: over a run they touch most of the file's pages (the kernel maps neighbouring pages on each
    fault), which stay resident as clean page cache until the dataset is dropped.
    """

    def __init__(self, ds: datasets.Dataset, column: str) -> None:
        check_text_column(ds, column)
        self.raw = ds.data.table.column(column)
        indices = ds._indices  # None when the rows are the table's own
        self.mapping = None if indices is None else indices.column(0).to_numpy().astype(np.int64, copy=False)

    def __len__(self) -> int:
        return len(self.raw) if self.mapping is None else len(self.mapping)

    def take(self, positions: pa.Array | np.ndarray) -> pa.Array:
        positions = np.asarray(positions, dtype=np.int64)
        if self.mapping is not None:
            positions = self.mapping[positions]
        return take_rows(self.raw, positions)


def _digests(texts: pa.Array) -> np.ndarray:
    """(rows, 2) uint64: a 128-bit hash of each text (exact duplicates share it; collisions ~2^-100)."""
    out = np.empty((len(texts), 2), dtype=np.uint64)
    for k, text in enumerate(texts.to_pylist()):
        out[k] = np.frombuffer(hashlib.blake2b((text or "").encode(), digest_size=16).digest(), np.uint64)
    return out


def _signatures_by_chunk(
    ds: datasets.Dataset,
    column: str,
    groups: np.ndarray | None,
    bands: int,
    rows: int,
    shingle: int,
    seed: int,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band keys, normalised lengths and exact-text digests, ``_CHUNK_ROWS`` normalised texts at a time.

    The texts are read with plain file reads (``read_batches``), not through the memory map.
    """
    n = len(ds)
    keys = np.empty((n, bands), dtype=np.uint64)
    lengths = np.empty(n, dtype=np.int64)
    digests = np.empty((n, 2), dtype=np.uint64)
    start = 0
    for batch in read_batches(ds, _CHUNK_ROWS, [column]):
        texts = normalize(pc.fill_null(batch.column(0), ""))
        stop = start + len(texts)
        signatures = minhash_signatures(texts, num_perm=bands * rows, shingle=shingle, seed=seed)
        keys[start:stop] = band_keys(
            signatures, bands, rows, groups[start:stop] if groups is not None else None
        )
        lengths[start:stop] = pc.utf8_length(texts).to_numpy(zero_copy_only=False)
        digests[start:stop] = _digests(texts)
        start = stop
        if progress is not None:
            progress(stop, n)
    return keys, lengths, digests


Signatures = tuple[np.ndarray, np.ndarray, np.ndarray]  # band keys, normalised lengths, exact digests
#: runs a list of argument-less tasks somewhere (an executor's ``map``); results in task order
MapShards = Callable[[Sequence[Callable[[], Signatures]]], list[Signatures]]


@dataclass
class SignatureShard:
    """The signatures of rows ``start:stop`` of the dataset saved at ``path``; picklable, so an
    executor can compute it on another machine (the run directory is shared)."""

    path: str
    column: str
    start: int
    stop: int
    groups: np.ndarray | None
    bands: int
    rows: int
    shingle: int
    seed: int

    def __call__(self) -> Signatures:
        folder = Path(self.path)
        ds = (
            datasets.load_from_disk(str(folder))
            if folder.is_dir()
            else datasets.Dataset.from_file(str(folder))
        )
        part = ds.select(range(self.start, self.stop))
        return _signatures_by_chunk(
            part, self.column, self.groups, self.bands, self.rows, self.shingle, self.seed
        )


def _signatures_by_shard(
    path: str | Path, n: int, shards: int, map_shards: MapShards, column: str,
    groups: np.ndarray | None, bands: int, rows: int, shingle: int, seed: int,
) -> Signatures:  # fmt: skip
    """`_signatures_by_chunk` over ``shards`` contiguous row ranges run by ``map_shards``, concatenated
    in row order (the same arrays one pass gives)."""
    cuts = np.linspace(0, n, shards + 1).astype(int)
    settings = (bands, rows, shingle, seed)
    tasks = [
        SignatureShard(str(path), column, int(a), int(b), None if groups is None else groups[a:b], *settings)
        for a, b in itertools.pairwise(cuts.tolist())
        if b > a
    ]
    parts = map_shards(tasks)
    return tuple(np.concatenate([part[k] for part in parts]) for k in range(3))  # type: ignore[return-value]


def _compact(values: np.ndarray, rows: np.ndarray, step: int = 65_536) -> np.ndarray:
    """``values[rows]`` for sorted unique ``rows``, written in place (no second copy of the keys).

    Safe because ``rows[j] >= j``: a slice only overwrites positions whose values were already moved.
    """
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        values[start : start + len(part)] = values[part]
    return values[: len(rows)]


def _first_occurrence(digests: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Rows whose (group, text) was not seen before, in row order.

    A stable lexicographic sort of the digest columns (and the group) puts equal texts together with
    their earliest row first; no structured copy of the (rows, 2) array as ``np.unique(axis=0)`` makes.
    """
    columns = [digests[:, 1], digests[:, 0]] if groups is None else [groups, digests[:, 1], digests[:, 0]]
    order = np.lexsort(columns)  # the last column is the primary key; stable
    same = np.ones(max(len(order) - 1, 0), dtype=bool)  # row k+1 of the order equals row k
    for column in columns:
        ordered = column[order]
        same &= ordered[1:] == ordered[:-1]
        del ordered
    first = order[np.concatenate(([True], ~same))] if len(order) else order
    first.sort()
    return first


def deduplicate(
    ds: datasets.Dataset,
    column: str = "problem",
    *,
    threshold: float = DEFAULT_THRESHOLD,
    by: str | None = None,
    bands: int = BANDS,
    rows: int = ROWS,
    shingle: int = SHINGLE,
    seed: int = 0,
    source: str | Path | None = None,
    shards: int = 1,
    map_shards: MapShards | None = None,
    progress: ProgressFn | None = None,
) -> tuple[datasets.Dataset, DedupStats]:
    """Drop exact and near-duplicate rows of ``column``; keep the first of each group, in row order.

    ``by`` (e.g. "domain") restricts comparisons to rows sharing that column's value. Memory: per row a
    few hundred bytes of keys; texts are read in chunks and fetched per batch of candidate pairs.
    With ``source`` (where ``ds`` is saved), ``shards`` > 1 and ``map_shards`` (an executor's ``map``),
    the signatures are computed per shard of rows by the executor, then merged: the same result.
    ``progress(done, total)`` is told the rows signed so far.
    """
    if not 0 < threshold <= 100:
        raise ConfigError(f"dedup threshold must be in (0, 100], got {threshold}")
    started = time.perf_counter()
    stats = DedupStats(input=len(ds))
    if len(ds) == 0:
        return ds, stats
    texts = MappedColumn(ds, column)
    group_codes = None
    if by is not None:
        group_values = pc.fill_null(chunked_column(ds, by).combine_chunks(), "")
        group_codes = pc.dictionary_encode(group_values).indices.to_numpy(zero_copy_only=False)
    if source is not None and shards > 1 and map_shards is not None:
        keys, lengths, digests = _signatures_by_shard(
            source, len(ds), shards, map_shards, column, group_codes, bands, rows, shingle, seed
        )
    else:
        keys, lengths, digests = _signatures_by_chunk(
            ds, column, group_codes, bands, rows, shingle, seed, progress
        )
    if progress is not None:
        progress(len(ds), len(ds))
    unique_rows = _first_occurrence(digests, group_codes)
    del digests
    stats.exact_duplicates = len(ds) - len(unique_rows)
    sub_groups = group_codes[unique_rows] if group_codes is not None else None
    finder = NearDuplicateFinder(
        TextFetcher(texts, unique_rows), lengths[unique_rows], threshold, sub_groups, stats
    )
    near = find_near_duplicates(_compact(keys, unique_rows), finder)
    del keys
    stats.near_duplicates = int(near.sum())
    keep = unique_rows[~near]
    stats.kept = len(keep)
    if "source" in ds.column_names and stats.kept < len(ds):
        dropped = np.setdiff1d(np.arange(len(ds)), keep, assume_unique=True)
        sources = MappedColumn(ds, "source").take(dropped)
        stats.dropped_by_source = {
            item["values"].as_py(): item["counts"].as_py() for item in pc.value_counts(sources)
        }
    stats.seconds = round(time.perf_counter() - started, 3)
    log.info("dedup: %s", stats.to_dict())
    result = ds.select(keep) if stats.kept < len(ds) else ds
    return result, stats
