"""Keeping the cache's index true to its segments: catch up, rebuild, and report what is damaged.

The segments are the truth (every record carries its key and checksum); the index is derived from
them. Opening a cache indexes whatever the segments hold beyond what the index has seen, so a
deleted, stale or copied-without-WAL index costs nothing; a garbage index file is replaced by one
rebuilt from the segments (when no other process has the cache open; otherwise a clear error).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from thoughtmill.curation.engine.cache_index import CacheIndex, IndexDamaged, index_files
from thoughtmill.curation.engine.dirlock import DirectoryLock
from thoughtmill.curation.engine.segments import Pointer, SegmentStore, scan

log = logging.getLogger("thoughtmill.engine")

INDEX_FILE = "index.sqlite"


@dataclass
class Scanned:
    """Records found in segment files, and the stretches that are not valid records."""

    records: list[tuple[str, Pointer]] = field(default_factory=list)
    damaged: list[tuple[str, int, int]] = field(default_factory=list)  # (segment, offset, length)


@dataclass
class CacheReport:
    """What ``thoughtmill cache check|rebuild`` found."""

    directory: Path
    entries: int
    segments: int
    bad: list[tuple[str, str]] = field(default_factory=list)  # (key, what is wrong): indexed, not intact
    damaged: list[tuple[str, int, int]] = field(default_factory=list)  # stretches of segments
    unindexed: int = 0  # intact records the index does not point at (superseded, or not caught up yet)

    @property
    def clean(self) -> bool:
        return not self.bad and not self.damaged

    def lines(self) -> list[str]:
        out = [f"{key}: {why}" for key, why in self.bad]
        out += [f"damaged bytes: segment {seg}, bytes {off}..{off + n}" for seg, off, n in self.damaged]
        out.append(
            f"cache {self.directory}: {self.entries} entries in {self.segments} segment(s); "
            f"{len(self.bad)} bad, {len(self.damaged)} damaged stretch(es) skipped, {self.unindexed} unindexed record(s)"
        )
        return out


def scan_segments(store: SegmentStore, since: dict[str, int] | None = None) -> Scanned:
    """Every segment's records from where ``since`` says indexing stopped (from the start if absent)."""
    found = Scanned()
    for name in store.names():
        try:
            result = scan(store.path(name), (since or {}).get(name, 0))
        except FileNotFoundError:
            continue
        found.records += result.records
        found.damaged += [(name, offset, length) for offset, length in result.damaged]
    return found


def catch_up(index: CacheIndex, store: SegmentStore) -> Scanned:
    """Index the records the segments hold beyond what the index has seen; returns what was found."""
    done = index.indexed_to()
    found = Scanned()
    for name in store.names():
        path = store.path(name)
        try:
            if path.stat().st_size <= done.get(name, 0):
                continue
            result = scan(path, done.get(name, 0))
        except FileNotFoundError:
            continue
        index.add(result.records, [(name, result.end)], replace=False)  # a writer's own pointer wins
        found.records += result.records
        found.damaged += [(name, offset, length) for offset, length in result.damaged]
    for name, offset, length in found.damaged:
        log.warning("cache segment %s: %d damaged bytes at byte %d skipped", store.path(name), length, offset)
    return found


def open_index(path: Path, store: SegmentStore, lock: DirectoryLock) -> CacheIndex:
    """The cache's index, caught up with its segments; rebuilt when missing or garbage."""
    fresh = not path.exists()
    try:
        index = CacheIndex(path)
    except IndexDamaged as exc:
        if not lock.try_exclusive():
            raise IndexDamaged(f"{exc} (another process has this cache open: stop it first)") from exc
        try:
            log.warning("%s; rebuilding it from the segments", exc)
            for stale in index_files(path):
                stale.unlink()
            index = CacheIndex(path)
            fresh = True
        finally:
            lock.back_to_shared()
    found = catch_up(index, store)
    if found.records:
        what = "the index was missing: rebuilt" if fresh else "indexed"
        log.warning("cache %s: %s %d answers from the segments", path.parent, what, len(found.records))
    return index


def rebuild_cache(directory: Path) -> CacheReport:
    """Drop the index and rebuild it from the segments; needs the cache alone (no process using it)."""
    started = time.monotonic()
    with DirectoryLock(directory, purpose="thoughtmill cache rebuild"):
        for stale in index_files(directory / INDEX_FILE):
            stale.unlink()
        store = SegmentStore(directory)
        index = CacheIndex(directory / INDEX_FILE)
        try:
            found = catch_up(index, store)
            report = CacheReport(
                directory=directory,
                entries=len(index),
                segments=len(store.names()),
                damaged=found.damaged,
                unindexed=len(found.records) - len(index),
            )
        finally:
            index.close()
            store.close()
    log.info("rebuilt the index of %s in %.1fs", directory, time.monotonic() - started)
    return report
