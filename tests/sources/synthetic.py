"""Synthetic problem texts with planted near-duplicates, for the dedup tests (seeded, no data files).

Words are random letter strings drawn with Zipf frequencies (exponent 1.1), so texts share common
words the way real problems do; planted copies differ from their original by 1-2 characters.
"""

from __future__ import annotations

import numpy as np

_LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def synthetic_problems(n: int, *, seed: int = 0, near_fraction: float = 0.1) -> tuple[list[str], np.ndarray]:
    """``n`` texts; ``near_fraction`` of them overwritten by a 1-2 character edit of an untouched row.

    Returns the texts and, per row, the row it was copied from (-1 for originals).
    """
    rng = np.random.default_rng(seed)
    size = 30_000
    vocab = [bytes(_LETTERS[rng.integers(0, 26, k)]).decode() for k in rng.integers(2, 10, size)]
    weights = 1.0 / np.arange(1, size + 1) ** 1.1
    weights /= weights.sum()
    lengths = rng.integers(20, 80, n)
    words = rng.choice(size, int(lengths.sum()), p=weights)
    numbers = rng.integers(0, 1000, n)
    texts = [
        " ".join(vocab[w] for w in row) + f" ${number}$."
        for row, number in zip(np.split(words, np.cumsum(lengths)[:-1]), numbers.tolist(), strict=True)
    ]
    copied_from = np.full(n, -1)
    targets = rng.choice(n, int(n * near_fraction), replace=False)
    originals = np.setdiff1d(np.arange(n), targets)
    for target in targets:
        original = int(rng.choice(originals))
        chars = list(texts[original])
        for _ in range(int(rng.integers(1, 3))):
            chars[int(rng.integers(0, len(chars)))] = "z"
        texts[target] = "".join(chars)
        copied_from[target] = original
    return texts, copied_from
