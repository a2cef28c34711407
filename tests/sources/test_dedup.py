"""Near-duplicate removal: the published rule (drop a row matching an earlier one), without all pairs."""

from __future__ import annotations

import time

import datasets
import numpy as np
import pytest
from rapidfuzz import fuzz, process
from thoughtmill.curation.dedup import deduplicate
from thoughtmill.curation.errors import ConfigError, InputError
from thoughtmill.curation.similarity import normalize, text_column

from .synthetic import synthetic_problems

BASE = (
    "Let $a$, $b$, $c$ be positive reals with $a+b+c=1$. Find the minimum value of "
    "$\\frac{1}{a}+\\frac{1}{b}+\\frac{1}{c}$ and determine when equality holds."
)


def make(problems: list[str], sources: list[str] | None = None, domains: list[str] | None = None):
    n = len(problems)
    return datasets.Dataset.from_dict(
        {
            "problem": problems,
            "source": sources or ["numina_math"] * n,
            "domain": domains or ["math"] * n,
        }
    )


def test_exact_and_near_duplicates_are_dropped_keeping_the_first() -> None:
    ds = make(
        [
            BASE,
            "Compute the number of primes below 100.",
            "  " + BASE.upper() + "  ",  # same after normalisation
            BASE.replace("minimum", "minimun"),  # one typo: ratio ~99
            BASE.replace("$a+b+c=1$", "$a+b+c=3$"),  # one digit: ratio ~99
            "Compute the number of primes below 1000 and above 10.",  # similar topic, not a duplicate
        ],
        sources=["numina_math", "taco", "numina_math", "apps", "numina_math", "taco"],
    )
    out, stats = deduplicate(ds)
    assert out["problem"] == [ds[0]["problem"], ds[1]["problem"], ds[5]["problem"]]
    assert (stats.exact_duplicates, stats.near_duplicates, stats.kept) == (1, 2, 3)
    assert stats.dropped_by_source == {"numina_math": 2, "apps": 1}
    assert stats.verified_pairs >= 2 and stats.candidate_pairs >= stats.verified_pairs


def test_threshold_is_configurable() -> None:
    ds = make([BASE, BASE.replace("determine when equality holds", "say when it is attained")])
    ratio = fuzz.ratio(*normalize(text_column(ds, "problem")).to_pylist())
    assert 80 < ratio < 95
    assert len(deduplicate(ds)[0]) == 2
    assert len(deduplicate(ds, threshold=ratio - 1)[0]) == 1
    with pytest.raises(ConfigError, match="threshold"):
        deduplicate(ds, threshold=0)


def test_by_restricts_comparisons_to_a_group() -> None:
    ds = make([BASE, BASE, BASE + " "], domains=["math", "code", "math"])
    out, stats = deduplicate(ds, by="domain")
    assert len(out) == 2 and stats.exact_duplicates == 1


def test_missing_column_is_named() -> None:
    with pytest.raises(InputError, match="'question'"):
        deduplicate(make([BASE]), column="question")


def test_matches_the_all_pairs_result_on_synthetic_data() -> None:
    texts, _ = synthetic_problems(1500, seed=3, near_fraction=0.2)
    ds = make(texts).add_column("row", list(range(len(texts))))
    norm = normalize(text_column(ds, "problem")).to_pylist()
    scores = process.cdist(norm, norm, scorer=fuzz.ratio, score_cutoff=95, dtype=np.float32)
    expected_dropped = set(np.nonzero(np.triu(scores >= 95, k=1))[1].tolist())
    assert len(expected_dropped) > 150  # the planted copies
    out, stats = deduplicate(ds)
    dropped = set(range(len(texts))) - set(out["row"])
    assert dropped == expected_dropped
    assert stats.kept + stats.exact_duplicates + stats.near_duplicates == len(ds)


def test_scales_without_all_pairs() -> None:
    texts, copied_from = synthetic_problems(20_000, seed=1)
    ds = make(texts).add_column("row", list(range(len(texts))))
    started = time.perf_counter()
    out, stats = deduplicate(ds)
    elapsed = time.perf_counter() - started
    planted = np.flatnonzero(copied_from >= 0)
    kept = set(out["row"])
    later_dropped = [max(int(t), int(copied_from[t])) not in kept for t in planted]
    assert np.mean(later_dropped) >= 0.99  # the later row of each planted pair is found and dropped
    assert stats.candidate_pairs < 20_000 * 19_999 // 2 // 100  # blocking, not all pairs
    assert elapsed < 30, f"20k rows took {elapsed:.1f}s"
