"""How much a benchmark's figure moves, and how busy the machine was while it was measured.

A ratio from one round on a shared machine can be off by a third; every benchmark therefore runs its
sides in alternating rounds, reports the ratio of each round (paired: the same conditions for both
sides) as median and range, and says how busy the machine was, so a reader can tell a
quiet-machine figure from a busy one.

The load average after a run counts the benchmark's own processes, so it cannot tell "busy". What
can: the CPU time the whole machine spent during the run (``/proc/stat``) minus the CPU time of the
benchmark and every child it reaped (``getrusage``) is what other work took, in cores on average.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Sequence

_QUIET_OTHER_CORES = 0.25  # other work using less than a quarter of a core on average: a quiet machine


def machine_load() -> dict[str, float]:
    """Load averages, the core count, and the CPU-time counters :func:`describe_load` subtracts."""
    one, five, _ = os.getloadavg()
    return {
        "load1": round(one, 2),
        "load5": round(five, 2),
        "cores": float(os.cpu_count() or 1),
        "machine_cpu_s": _machine_cpu_s(),
        "own_cpu_s": _own_cpu_s(),
        "at_s": time.monotonic(),
    }


def other_work_cores(before: dict[str, float], after: dict[str, float]) -> float | None:
    """Cores other processes kept busy on average between the two readings (None: not measurable)."""
    if before.get("machine_cpu_s") is None or after.get("machine_cpu_s") is None:
        return None
    wall = after["at_s"] - before["at_s"]
    machine = after["machine_cpu_s"] - before["machine_cpu_s"]
    own = after["own_cpu_s"] - before["own_cpu_s"]
    return max(0.0, (machine - own) / wall) if wall > 0 else None


def _machine_cpu_s() -> float | None:
    """CPU seconds spent by the whole machine since boot, idle and I/O wait left out (Linux only)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """CPU seconds of this process and of every child it has reaped (and theirs, recursively)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


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


def idle_window(seconds: float = 3.0) -> tuple[dict[str, float], dict[str, float]]:
    """Two readings ``seconds`` apart while the benchmark does nothing: for benchmarks whose own work
    runs in processes they do not reap (a Ray cluster), what others take is read before starting."""
    before = machine_load()
    time.sleep(seconds)
    return before, machine_load()


def describe_load(before: dict[str, float], after: dict[str, float]) -> str:
    """One line: what other work took during the run, and whether the figures are quiet-machine ones."""
    others = other_work_cores(before, after)
    if others is None:  # no /proc/stat: fall back on the load average before the run
        quiet, measured = before["load1"] < _QUIET_OTHER_CORES, "not measurable here"
    else:
        quiet, measured = others < _QUIET_OTHER_CORES, f"{others:.2f} cores"
    return (
        f"other work on the machine: {measured} on average between the readings (load average "
        f"{before['load1']:.2f} before, {after['load1']:.2f} after, the benchmark's own included), "
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
