"""How much a benchmark's figure moves, and how busy the machine was while it was measured.

A ratio from one round on a shared machine can be off by a third; every benchmark therefore runs its
sides in alternating rounds, reports the ratio of each round (paired: the same conditions for both
sides) as median and range, and prints the load average before and after, so a reader can tell a
quiet-machine figure from a busy one.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence


def machine_load() -> dict[str, float]:
    """1- and 5-minute load averages and the core count (a load above the cores means a busy machine)."""
    one, five, _ = os.getloadavg()
    return {"load1": round(one, 2), "load5": round(five, 2), "cores": float(os.cpu_count() or 1)}


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum of a benchmark's rounds."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "rounds": float(len(values)),
    }


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, float]:
    """The spread of per-round ratios ``numerators[i] / denominators[i]`` (rounds run back to back)."""
    return spread([a / b for a, b in zip(numerators, denominators, strict=True)])


def describe_load(before: dict[str, float], after: dict[str, float]) -> str:
    """One line: the load before and after, and whether the figures are quiet-machine figures."""
    quiet = max(before["load1"], after["load1"]) < 0.5 * before["cores"] + 0.5
    return (
        f"machine load (1 min) {before['load1']:.2f} before, {after['load1']:.2f} after, on "
        f"{before['cores']:.0f} cores: {'quiet' if quiet else 'BUSY - figures below are pessimistic'}"
    )


def describe_ratio(name: str, ratios: dict[str, float], percent: bool = False) -> str:
    """``name: median X (range a-b over N rounds)``, as a percentage or a multiple."""

    def fmt(v: float) -> str:
        return f"{v:.0%}" if percent else f"{v:.1f}x"

    return (
        f"{name}: median {fmt(ratios['median'])} "
        f"(range {fmt(ratios['min'])}-{fmt(ratios['max'])} over {ratios['rounds']:.0f} rounds)"
    )
