"""Near-duplicate removal by fuzzy ratio, scaled past all-pairs with MinHash-LSH blocking.

The published recipe compares every problem with every other (``rapidfuzz.fuzz.ratio`` >= 95): 173k
rows make 1.5e10 pairs. Here the ratio is only computed for candidate pairs: texts are normalised
(lower case, whitespace collapsed), exact copies removed by hash, then MinHash signatures over byte
5-grams (numpy, columnar over the Arrow buffers) are banded; rows sharing a band bucket are candidates,
and each candidate pair is verified with the same fuzzy ratio. A row is dropped when it matches an
earlier row (the published rule). Blocking can miss a pair the all-pairs loop would find (rarely, for
pairs at the threshold with edits spread evenly); ``bands``/``rows`` trade recall for speed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from curation.errors import ConfigError, InputError

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 95.0
SHINGLE = 5
BANDS = 20
ROWS = 3
#: Buckets larger than this are verified as one block with ``rapidfuzz.process.cdist``.
MAX_PAIR_BUCKET = 64
_CHUNK_ROWS = 20_000
_MIX = np.uint64(0x9E3779B97F4A7C15)


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


# -- text columns as Arrow / numpy ----------------------------------------------------------------


def text_column(ds: datasets.Dataset, column: str) -> pa.Array:
    """The column as one Arrow string array (nulls as ""), read from the memory-mapped table."""
    if column not in ds.column_names:
        raise InputError(f"dataset has no column {column!r} to compare (columns: {ds.column_names})")
    values = ds.with_format("arrow")[column]
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise InputError(f"column {column!r} must hold strings, found {values.type}")
    return pc.fill_null(values, "")


def normalize(texts: pa.Array) -> pa.Array:
    """Lower case, whitespace runs collapsed to one space, trimmed: what "the same problem" compares."""
    texts = pc.utf8_lower(texts)
    texts = pc.replace_substring_regex(texts, pattern=r"\s+", replacement=" ")
    return pc.utf8_trim_whitespace(texts)


def utf8_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes and the row offsets (rebased to 0) of a string array, without copying rows."""
    texts = pc.cast(texts, pa.large_string())
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset : texts.offset + len(texts) + 1]
    data_buffer = texts.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


# -- MinHash ---------------------------------------------------------------------------------------


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 2**31, num_perm, dtype=np.uint64) * 2 + 1).astype(np.uint32)
    b = rng.integers(0, 2**32, num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def _shingle_hashes(texts: pa.Array, k: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every byte k-gram, and where each row's k-grams start (every row has >= 1)."""
    padded = pc.utf8_rpad(texts, width=k, padding=" ")
    data, offsets = utf8_buffers(padded)
    lengths = np.diff(offsets)
    counts = lengths - k + 1
    n_positions = len(data) - k + 1
    value = np.zeros(max(n_positions, 0), dtype=np.uint64)
    for t in range(k):
        value |= data[t : t + n_positions].astype(np.uint64) << np.uint64(8 * t)
    row_of = np.repeat(np.arange(len(lengths)), lengths)[: max(n_positions, 0)]
    within = np.arange(max(n_positions, 0)) - offsets[:-1][row_of]
    value = value[within < counts[row_of]]
    hashed = ((value * _MIX) >> np.uint64(32)).astype(np.uint32)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return hashed, starts


def minhash_signatures(
    texts: pa.Array, *, num_perm: int = BANDS * ROWS, shingle: int = SHINGLE, seed: int = 0
) -> np.ndarray:
    """(rows, num_perm) uint32 MinHash signatures of normalised texts, computed in row chunks."""
    if not 1 <= shingle <= 8:
        raise ConfigError(f"shingle size must be 1..8 bytes, got {shingle}")
    a, b = _permutations(num_perm, seed)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    for start in range(0, len(texts), _CHUNK_ROWS):
        chunk = texts.slice(start, _CHUNK_ROWS)
        hashed, starts = _shingle_hashes(chunk, shingle)
        scratch = np.empty_like(hashed)
        for p in range(num_perm):
            np.multiply(hashed, a[p], out=scratch)
            np.add(scratch, b[p], out=scratch)
            out[start : start + len(chunk), p] = np.minimum.reduceat(scratch, starts)
    return out


def band_keys(signatures: np.ndarray, bands: int, rows: int, groups: np.ndarray | None = None) -> np.ndarray:
    """(rows, bands) uint64 bucket keys: each band's ``rows`` signature values folded, mixed with a group."""
    if signatures.shape[1] < bands * rows:
        raise ConfigError(f"{bands} bands x {rows} rows need {bands * rows} permutations")
    keys = np.zeros((signatures.shape[0], bands), dtype=np.uint64)
    for band in range(bands):
        key = np.full(signatures.shape[0], band + 1, dtype=np.uint64)
        for r in range(rows):
            key = (key * _MIX) ^ signatures[:, band * rows + r].astype(np.uint64)
        if groups is not None:
            key ^= (groups.astype(np.uint64) + np.uint64(1)) * np.uint64(0xC2B2AE3D27D4EB4F)
        keys[:, band] = key
    return keys


# -- candidates and verification -------------------------------------------------------------------


def _runs(order: np.ndarray, sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    return starts, np.diff(np.concatenate((starts, [len(order)])))


def _emit_runs(
    order: np.ndarray, sorted_keys: np.ndarray, n: int, max_bucket: int, codes: list[np.ndarray]
) -> list[np.ndarray]:
    """Append the pair codes of every run of equal keys up to ``max_bucket``; return the larger runs."""
    starts, sizes = _runs(order, sorted_keys)
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= max_bucket)]):
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        left, right = np.triu_indices(int(size), 1)
        i, j = members[:, left].ravel(), members[:, right].ravel()
        codes.append(np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j))
    return [
        order[s : s + z] for s, z in zip(starts[sizes > max_bucket], sizes[sizes > max_bucket], strict=True)
    ]


def candidate_pairs(
    keys: np.ndarray, max_bucket: int = MAX_PAIR_BUCKET, refine: int = 3
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Pairs (as ``i * n + j`` codes, i < j) sharing a bucket in any band, plus the oversized buckets.

    A bucket over ``max_bucket`` rows (texts whose minima all come from very common shingles) is
    split by the next bands' keys, up to ``refine`` times, so its members are paired only when they
    also agree elsewhere; what is still oversized is returned for block verification.
    """
    n, bands = keys.shape
    codes: list[np.ndarray] = []
    big: dict[bytes, np.ndarray] = {}
    for band in range(bands):
        order = np.argsort(keys[:, band], kind="stable")
        large = _emit_runs(order, keys[order, band], n, max_bucket, codes)
        for depth in range(1, min(refine, bands - 1) + 1):
            still_large: list[np.ndarray] = []
            for members in large:
                sub = keys[members, (band + depth) % bands]
                inner = np.argsort(sub, kind="stable")
                still_large += _emit_runs(members[inner], sub[inner], n, max_bucket, codes)
            large = still_large
        for members in large:
            members = np.sort(members)
            big.setdefault(members.tobytes(), members)
    unique = np.unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
    return unique, list(big.values())


def verify_pairs(
    texts: pa.Array, left: np.ndarray, right: np.ndarray, threshold: float, other: pa.Array | None = None
) -> np.ndarray:
    """Boolean mask of pairs whose ``fuzz.ratio`` >= threshold (``right`` indexes ``other`` when given)."""
    other = texts if other is None else other
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    len_l = pc.utf8_length(texts).to_numpy(zero_copy_only=False)[left]
    len_r = pc.utf8_length(other).to_numpy(zero_copy_only=False)[right]
    total = np.maximum(len_l + len_r, 1)
    possible = 200.0 * np.minimum(len_l, len_r) / total >= threshold  # ratio can't beat the length bound
    mask = np.zeros(len(left), dtype=bool)
    idx = np.flatnonzero(possible)
    if len(idx) == 0:
        return mask
    rows_l, inv_l = np.unique(left[idx], return_inverse=True)
    rows_r, inv_r = np.unique(right[idx], return_inverse=True)
    strs_l = texts.take(pa.array(rows_l)).to_pylist()
    strs_r = other.take(pa.array(rows_r)).to_pylist()
    ratio = fuzz.ratio
    for k, (a, b) in enumerate(zip(inv_l.tolist(), inv_r.tolist(), strict=True)):
        if ratio(strs_l[a], strs_r[b], score_cutoff=threshold):
            mask[idx[k]] = True
    return mask


def _verify_block(texts: pa.Array, members: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    strings = texts.take(pa.array(members)).to_pylist()
    scores = process.cdist(strings, strings, scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.float32)
    i, j = np.nonzero(np.triu(scores >= threshold, k=1))
    return members[i], members[j]


def near_duplicate_pairs(
    texts: pa.Array,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    bands: int = BANDS,
    rows: int = ROWS,
    shingle: int = SHINGLE,
    seed: int = 0,
    groups: np.ndarray | None = None,
    stats: DedupStats | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Verified pairs (i < j) of normalised texts with ``fuzz.ratio`` >= threshold, found via LSH."""
    if not 0 < threshold <= 100:
        raise ConfigError(f"dedup threshold must be in (0, 100], got {threshold}")
    signatures = minhash_signatures(texts, num_perm=bands * rows, shingle=shingle, seed=seed)
    keys = band_keys(signatures, bands, rows, groups)
    del signatures
    codes, big_buckets = candidate_pairs(keys)
    n = len(texts)
    left, right = codes // max(n, 1), codes % max(n, 1)
    mask = verify_pairs(texts, left, right, threshold)
    found_l, found_r = [left[mask]], [right[mask]]
    for members in big_buckets:
        i, j = _verify_block(texts, members, threshold)
        if groups is not None:
            same = groups[i] == groups[j]
            i, j = i[same], j[same]
        found_l.append(i)
        found_r.append(j)
    pairs = np.unique(np.concatenate(found_l) * max(n, 1) + np.concatenate(found_r))
    if stats is not None:
        stats.candidate_pairs = int(len(codes) + sum(len(m) * (len(m) - 1) // 2 for m in big_buckets))
        stats.verified_pairs = len(pairs)
    return pairs // max(n, 1), pairs % max(n, 1)


# -- the stage -------------------------------------------------------------------------------------


def _first_occurrence(keys: pa.Array) -> np.ndarray:
    codes = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)
    return np.sort(first)


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
) -> tuple[datasets.Dataset, DedupStats]:
    """Drop exact and near-duplicate rows of ``column``; keep the first of each group, in row order.

    ``by`` (e.g. "domain") restricts comparisons to rows sharing that column's value.
    """
    started = time.perf_counter()
    stats = DedupStats(input=len(ds))
    if len(ds) == 0:
        return ds, stats
    texts = normalize(text_column(ds, column))
    group_codes = None
    exact_key = texts
    if by is not None:
        group_values = text_column(ds, by)
        group_codes = pc.dictionary_encode(group_values).indices.to_numpy(zero_copy_only=False)
        exact_key = pc.binary_join_element_wise(group_values, texts, "\x00")
    unique_rows = _first_occurrence(exact_key)
    stats.exact_duplicates = len(ds) - len(unique_rows)
    sub_texts = texts.take(pa.array(unique_rows))
    sub_groups = group_codes[unique_rows] if group_codes is not None else None
    _, later = near_duplicate_pairs(
        sub_texts, threshold=threshold, bands=bands, rows=rows, shingle=shingle, seed=seed,
        groups=sub_groups, stats=stats,
    )  # fmt: skip
    near = np.unique(later)
    stats.near_duplicates = len(near)
    keep = np.delete(unique_rows, near)
    stats.kept = len(keep)
    if "source" in ds.column_names and stats.kept < len(ds):
        dropped = np.setdiff1d(np.arange(len(ds)), keep, assume_unique=True)
        sources = text_column(ds, "source").take(pa.array(dropped))
        stats.dropped_by_source = {
            item["values"].as_py(): item["counts"].as_py() for item in pc.value_counts(sources)
        }
    stats.seconds = round(time.perf_counter() - started, 3)
    log.info("dedup: %s", stats.to_dict())
    result = ds.select(keep.tolist()) if stats.kept < len(ds) else ds
    return result, stats
