"""Text similarity primitives shared by near-duplicate removal and benchmark decontamination.

Texts are normalised (lower case, whitespace collapsed) with Arrow compute; MinHash signatures over
byte k-grams are computed with numpy straight from the Arrow buffers and folded into LSH band keys;
candidate pairs are confirmed with ``rapidfuzz.fuzz.ratio`` (the published recipe's test).
``curation.dedup`` and ``curation.decontaminate`` both build on these; neither imports the other.
"""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process
from thoughtmill.curation.errors import ConfigError, InputError
from thoughtmill.curation.sources.arrow import arrow_column

#: ``fuzz.ratio`` at or above which two problems are "the same" (the published recipe).
DEFAULT_THRESHOLD = 95.0
#: Byte k-gram size of the MinHash shingles.
SHINGLE = 5
#: LSH bands x rows per band (60 permutations).
BANDS = 20
ROWS = 3
#: Candidate pairs materialised and verified at once (the side of a dedup block tile, too).
PAIR_BATCH = 50_000
_SHINGLE_BYTES = 1 << 19
_MIX = np.uint64(0x9E3779B97F4A7C15)


# -- text columns as Arrow / numpy ----------------------------------------------------------------


def text_column(ds: datasets.Dataset, column: str) -> pa.Array:
    """The column as one Arrow string array (nulls as ""), read from the memory-mapped table."""
    if column not in ds.column_names:
        raise InputError(f"dataset has no column {column!r} to compare (columns: {ds.column_names})")
    values = arrow_column(ds, column)
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
    # Chunks of about _SHINGLE_BYTES of text: the shingle arrays cost ~40 bytes per text byte.
    cumulative = np.cumsum(pc.binary_length(texts).fill_null(0).to_numpy(zero_copy_only=False))
    start = 0
    while start < len(texts):
        before = cumulative[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(cumulative, before + _SHINGLE_BYTES, side="right")))
        chunk = texts.slice(start, stop - start)
        hashed, starts = _shingle_hashes(chunk, shingle)
        scratch = np.empty_like(hashed)
        for p in range(num_perm):
            np.multiply(hashed, a[p], out=scratch)
            np.add(scratch, b[p], out=scratch)
            out[start:stop, p] = np.minimum.reduceat(scratch, starts)
        start = stop
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


# -- confirming candidates and reading text columns -----------------------------------------------


def ratios_at_least(left: list[str], right: list[str], threshold: float) -> np.ndarray:
    """Element-wise ``fuzz.ratio(left[k], right[k]) >= threshold`` (rapidfuzz's C loop, no Python per pair)."""
    if not left:
        return np.zeros(0, dtype=bool)
    scores = process.cpdist(left, right, scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.float32)
    return np.asarray(scores) >= threshold


def check_text_column(ds: datasets.Dataset, column: str) -> None:
    """Raise ``InputError`` unless ``ds`` has ``column`` and it holds strings (read nothing)."""
    if column not in ds.column_names:
        raise InputError(f"dataset has no column {column!r} to compare (columns: {ds.column_names})")
    kind = ds.data.schema.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise InputError(f"column {column!r} must hold strings, found {kind}")


def chunked_column(ds: datasets.Dataset, column: str) -> pa.ChunkedArray:
    """The column as Arrow chunks straight from the (memory-mapped) table: no copy of the texts."""
    check_text_column(ds, column)
    values = arrow_column(ds, column)
    if isinstance(values, pa.Array):
        values = pa.chunked_array([values])
    return values
