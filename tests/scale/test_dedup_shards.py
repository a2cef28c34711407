"""Near-duplicate removal stays global when its signatures are computed per shard: a pair whose rows
fall in different shards is still found, and the result is the one a single pass gives."""

from __future__ import annotations

import random

import datasets
from thoughtmill.curation.dedup import deduplicate
from thoughtmill.curation.pipeline.executors.local import LocalExecutor

WORDS = [f"w{k}" for k in range(3000)]


def planted(n: int) -> datasets.Dataset:
    """``n`` random texts; the last quarter are one-character edits of rows in the first quarter, so
    every planted pair spans the shards."""
    rng = random.Random(7)
    texts = [" ".join(rng.choices(WORDS, k=40)) for _ in range(n - n // 4)]
    domains = ["math" if k % 3 else "code" for k in range(len(texts))]
    for k in range(n // 4):
        texts.append(texts[k][:10] + "x" + texts[k][11:])
        domains.append(domains[k])
    return datasets.Dataset.from_dict(
        {"id": [f"r{k}" for k in range(len(texts))], "problem": texts, "domain": domains}
    )


def test_signatures_per_shard_give_the_single_pass_result(tmp_path):
    ds = planted(400)
    path = tmp_path / "input"
    ds.save_to_disk(str(path))
    ds = datasets.load_from_disk(str(path))
    one, one_stats = deduplicate(ds, "problem", by="domain")
    tasks_run: list[int] = []

    def counted_map(tasks):
        tasks_run.append(len(tasks))
        return LocalExecutor().map(tasks)

    four, four_stats = deduplicate(ds, "problem", by="domain", source=path, shards=4, map_shards=counted_map)
    assert tasks_run == [4]  # the signatures were computed by the executor, one task per shard
    assert four["id"] == one["id"]
    assert one_stats.near_duplicates >= 90  # the planted pairs, each across shards 0 and 3, found
    assert (four_stats.near_duplicates, four_stats.exact_duplicates) == (
        one_stats.near_duplicates,
        one_stats.exact_duplicates,
    )
