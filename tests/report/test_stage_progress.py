"""Dedup and decontamination tell their progress (rows done / total) as they go."""

from __future__ import annotations

import datasets
from thoughtmill.curation.decontaminate import decontaminate
from thoughtmill.curation.dedup import deduplicate


def _problems(n: int) -> datasets.Dataset:
    texts = [f"Problem {i}: compute {i} + {i * 7} and explain each step of the sum." for i in range(n)]
    return datasets.Dataset.from_dict({"problem": texts, "domain": ["math"] * n, "source": ["s"] * n})


def test_dedup_reports_rows_signed_up_to_all_of_them() -> None:
    seen: list[tuple[int, int]] = []
    ds = _problems(5000)
    deduplicate(ds, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) >= 2 and seen[-1] == (5000, 5000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_decontamination_reports_rows_checked() -> None:
    seen: list[tuple[int, int]] = []
    ds = _problems(3000)
    decontaminate(ds, {"bench": ["Problem 5: compute 5 + 35 and explain each step of the sum."]},
                  progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen and seen[-1] == (3000, 3000)
