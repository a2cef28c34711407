"""Dedup's bounded-memory paths (small pair batches, oversized buckets verified in tiles) give the
same result as the default path."""

from __future__ import annotations

import pytest
import thoughtmill.curation.dedup as dedup
from thoughtmill.curation.dedup import deduplicate

from .synthetic import synthetic_problems
from .test_dedup import make


def test_tiny_batches_and_tiled_blocks_match_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    texts, _ = synthetic_problems(600, seed=5, near_fraction=0.2)
    ds = make(texts).add_column("row", list(range(len(texts))))
    expected, expected_stats = deduplicate(ds)
    assert expected_stats.near_duplicates > 50
    find = dedup.find_near_duplicates
    monkeypatch.setattr(dedup, "PAIR_BATCH", 50)
    monkeypatch.setattr(dedup, "BLOCK", 7)
    # Every bucket of 3+ rows is "oversized": verified as a block, 7 x 7 ratios at a time.
    monkeypatch.setattr(
        dedup, "find_near_duplicates", lambda keys, finder: find(keys, finder, max_bucket=2, refine=0)
    )
    out, stats = deduplicate(ds)
    assert out["row"] == expected["row"]
    assert stats.near_duplicates == expected_stats.near_duplicates


def test_crowded_buckets_keep_the_first_row() -> None:
    texts = [f"count the {w} items" for w in ("red", "blue")] * 300  # 600 rows, 2 distinct texts
    texts += [f"item number {i} of a long list of very similar looking texts" for i in range(400)]
    out, stats = deduplicate(make(texts))
    assert stats.exact_duplicates == 598
    kept = set(out["problem"])
    assert {"count the red items", "count the blue items"} <= kept
    assert "item number 0 of a long list of very similar looking texts" in kept
    assert stats.near_duplicates > 300 and stats.kept == len(out)
