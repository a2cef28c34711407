"""Memory measurement shared by the benchmarks: peak anonymous and file-backed RSS, per window.

``ru_maxrss`` counts the pages of memory-mapped Arrow files that were read (clean page cache the
kernel reclaims at will) together with the heap, and it never goes down, so it cannot say which
stage grew. Sampling ``RssAnon`` / ``RssFile`` from /proc/self/status every 20 ms can: the anonymous
part is what the process really holds, and ``window()`` restarts the peaks for the next stage.
"""

from __future__ import annotations

import resource
import threading
from dataclasses import asdict, dataclass


@dataclass
class RssPeaks:
    """Peaks (MB) over one window; ``total`` is the peak of anon + file + shmem sampled together."""

    anon_mb: float = 0.0
    file_mb: float = 0.0
    total_mb: float = 0.0
    start_anon_mb: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in asdict(self).items()}


def read_rss() -> tuple[float, float, float]:
    """Current (anon, file, shmem) resident memory of this process, in MB."""
    values = {"RssAnon:": 0.0, "RssFile:": 0.0, "RssShmem:": 0.0}
    with open("/proc/self/status") as status:
        for line in status:
            key = line.split(maxsplit=1)[0] if line else ""
            if key in values:
                values[key] = int(line.split()[1]) / 1024
    return values["RssAnon:"], values["RssFile:"], values["RssShmem:"]


def max_rss_mb() -> float:
    """Peak resident set (anon + file-backed) of this process's own address space, in MB.

    ``VmHWM``, not ``ru_maxrss``: on Linux a child inherits its parent's high-water mark through fork
    and keeps it across exec, so a benchmark subprocess's ``ru_maxrss`` is at least its parent's peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no procfs: the closest there is


class RssSampler:
    """Samples RSS every ``interval_s`` in a daemon thread; ``peak_anon_mb`` / ``peak_file_mb`` are the
    peaks since start (or since the last ``window()``)."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._peaks = RssPeaks()
        self.window()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def peak_anon_mb(self) -> float:
        return self._peaks.anon_mb

    @property
    def peak_file_mb(self) -> float:
        return self._peaks.file_mb

    def _sample(self) -> None:
        anon, file, shmem = read_rss()
        with self._lock:
            peaks = self._peaks
            peaks.anon_mb = max(peaks.anon_mb, anon)
            peaks.file_mb = max(peaks.file_mb, file)
            peaks.total_mb = max(peaks.total_mb, anon + file + shmem)

    def window(self) -> RssPeaks:
        """End the current window (returning its peaks) and start a new one from the current RSS."""
        self._sample()
        anon, _, _ = read_rss()
        with self._lock:
            finished, self._peaks = self._peaks, RssPeaks(start_anon_mb=anon)
        self._sample()
        return finished

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def stop(self) -> RssPeaks:
        """Stop sampling; returns the last window's peaks (which stay readable as properties)."""
        self._sample()
        self._stop.set()
        self._thread.join()
        return self._peaks
