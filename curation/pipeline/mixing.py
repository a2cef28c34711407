"""Source mixing (``stages.mix``): per domain, keep the top-N sources and an equal share from each.

OpenThoughts3 found that questions from the one or two best sources of a domain beat a mix of many.
Sources are ranked by ``ranking`` (best first) or, for a domain it does not name, by the order they
first appear in the input (the order of ``stages.sources``). Which rows make a source's share is a
seeded hash of the row id, so the choice does not depend on row order and a re-run picks the same rows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from thoughtmill.curation.pipeline.counts import counts_by_group, read_columns
from thoughtmill.curation.pipeline.stage import Stage, load_dataset_at, save_dataset


def ranked_sources(domain: str, seen: list[str], ranking: dict[str, list[str]]) -> list[str]:
    """The sources of ``domain`` present in the input, best first."""
    if domain not in ranking:
        return seen
    ranked = [name for name in ranking[domain] if name in seen]
    return ranked + [name for name in seen if name not in ranked]


def equal_shares(total: int | None, sizes: list[int]) -> list[int]:
    """How many rows each chosen source gives: ``total`` split equally, a source that has fewer giving
    all it has and the others sharing what it could not give (the first sources take a remainder);
    with no total, as many from each as the smallest source has."""
    if total is None:
        return [min(sizes)] * len(sizes)
    shares = [0] * len(sizes)
    left = min(total, sum(sizes))
    open_ = list(range(len(sizes)))
    while left > 0 and open_:
        base, extra = divmod(left, len(open_))
        for j, k in enumerate(open_):
            give = min(sizes[k] - shares[k], base + (1 if j < extra else 0))
            shares[k] += give
            left -= give
        open_ = [k for k in open_ if shares[k] < sizes[k]]
    return shares


def seeded_order(ids: list[str], seed: int) -> np.ndarray:
    """Positions of ``ids`` in an order fixed by the seed and the ids alone."""
    keys = [hashlib.blake2b(f"{seed}\x00{i}".encode(), digest_size=8).digest() for i in ids]
    return np.argsort(np.array(keys, dtype="S8"), kind="stable")


class MixStage(Stage):
    name = "mix"

    def run(self, input_path: Path | None) -> tuple[Path | None, dict[str, Any]]:
        ds = load_dataset_at(input_path, what="mix")
        if not self.config.enabled:
            return input_path, {"enabled": False, "rows": len(ds), "counts": counts_by_group(ds)}
        table = read_columns(ds, ["id", "domain", "source"])
        ids = table.column("id").to_pylist()
        domains = np.array(table.column("domain").to_pylist(), dtype=object)
        sources = np.array(table.column("source").to_pylist(), dtype=object)
        keep = np.ones(len(ds), dtype=bool)
        chosen: dict[str, dict[str, int]] = {}
        for domain in dict.fromkeys(domains.tolist()):
            if self.config.domains is not None and domain not in self.config.domains:
                continue
            mine = domains == domain
            keep[mine] = False
            seen = list(dict.fromkeys(sources[mine].tolist()))
            top = ranked_sources(domain, seen, self.config.ranking)[: self.config.sources_per_domain]
            positions = [np.flatnonzero(mine & (sources == name)) for name in top]
            shares = equal_shares(self.config.share_of(domain), [len(p) for p in positions])
            for rows, share in zip(positions, shares):
                order = seeded_order([ids[r] for r in rows], self.config.seed)
                keep[rows[order[:share]]] = True
            chosen[domain] = dict(zip(top, shares))
        kept = ds.select(np.flatnonzero(keep))
        path = save_dataset(kept, self.dir / "dataset")
        return path, {
            "enabled": True,
            "rows": len(kept),
            "chosen": chosen,
            "dropped": len(ds) - len(kept),
            "counts": counts_by_group(kept),
        }
