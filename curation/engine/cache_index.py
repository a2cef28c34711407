"""The cache's index: which segment record holds the answer to each key, in one SQLite file.

Plain ``sqlite3`` rather than diskcache: the engine needs a bulk lookup (one ``SELECT ... IN`` per
chunk of rows) and a bulk insert in one transaction, and diskcache's public API has neither (one
SQL round trip per key costs a tenth of a row's CPU budget at full speed; reaching for its private
tables is what this module replaces). It holds small pointers only, and it is derived data: every
record in the segments carries its key, so the index can always be rebuilt from them and losing it
costs no money. ``segments.indexed_to`` says how far each segment file has been indexed, so records
written but never indexed (a process killed between the two, an index copied without its WAL) are
found the next time the cache opens.

WAL mode with ``synchronous=OFF``: safe against a killed *process* (the OS keeps the written pages);
only a power cut could lose the last few index writes, which the next open recovers from the segments.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from thoughtmill.curation.engine.segments import Pointer
from thoughtmill.curation.errors import CurationError

_LOOKUP_CHUNK = 500  # keys per bulk SELECT; well under SQLite's bound-parameter limit (32766)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY, segment TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, indexed_to INTEGER NOT NULL) WITHOUT ROWID;
"""


class IndexDamaged(CurationError):
    """The index file is not a readable SQLite database (garbage, or damaged pages)."""


def _enter_wal(db: sqlite3.Connection, patience_s: float = 60.0) -> None:
    """Switch the file to WAL mode. SQLite answers "database is locked" at once, without its busy
    timeout, when another process is creating or switching the same file at that instant (several
    ranks opening one cache together): wait and try again, as the busy timeout would."""
    delay, waited = 0.002, 0.0
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or waited >= patience_s:
                raise
        time.sleep(delay)
        waited += delay
        delay = min(delay * 2, 0.1)


class CacheIndex:
    """Key -> :class:`Pointer`, and how far each segment has been indexed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc
        try:
            _enter_wal(self._db)
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("PRAGMA cache_size=-4096")  # 4 MB: the index is small, answers live in segments
            self._db.executescript(_SCHEMA)
        except sqlite3.OperationalError:
            self._db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise self._damaged(exc) from exc

    def lookup(self, keys: Sequence[str]) -> dict[str, Pointer]:
        """Pointers of the ``keys`` that are indexed (absent keys are simply missing)."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, Pointer] = {}
        try:
            for start in range(0, len(unique), _LOOKUP_CHUNK):
                chunk = unique[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT key, segment, offset, length FROM entries WHERE key IN ({marks})"
                for key, segment, offset, length in self._db.execute(query, chunk):
                    found[key] = Pointer(segment, offset, length)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc
        return found

    def add(
        self,
        entries: Iterable[tuple[str, Pointer]],
        progress: Iterable[tuple[str, int]] = (),
        *,
        replace: bool = True,
    ) -> None:
        """Index ``entries`` and record each ``(segment, indexed_to)`` of ``progress``, in one transaction.

        ``replace=False`` keeps a key's existing pointer (catching up on records another process
        may index itself); a fresh answer for a key replaces the old one.
        """
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"{verb} INTO entries(key, segment, offset, length) VALUES (?, ?, ?, ?)",
                    [(key, p.segment, p.offset, p.length) for key, p in entries],
                )
                self._db.executemany(
                    "INSERT INTO segments(name, indexed_to) VALUES (?, ?) ON CONFLICT(name)"
                    " DO UPDATE SET indexed_to = max(indexed_to, excluded.indexed_to)",
                    list(progress),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc

    def indexed_to(self) -> dict[str, int]:
        """How far each known segment has been indexed (bytes)."""
        return dict(self._query("SELECT name, indexed_to FROM segments"))

    def entries(self) -> list[tuple[str, Pointer]]:
        """Every indexed key with its pointer, in file order (what a full check reads)."""
        rows = self._query("SELECT key, segment, offset, length FROM entries ORDER BY segment, offset")
        return [(key, Pointer(segment, offset, length)) for key, segment, offset, length in rows]

    def delete(self, key: str) -> None:
        self._query("DELETE FROM entries WHERE key = ?", (key,))

    def __contains__(self, key: str) -> bool:
        return bool(self._query("SELECT 1 FROM entries WHERE key = ?", (key,)))

    def __len__(self) -> int:
        return int(self._query("SELECT count(*) FROM entries")[0][0])

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc

    def _damaged(self, exc: BaseException) -> IndexDamaged:
        return IndexDamaged(
            f"the cache index {self.path} is damaged ({exc}); the answers are safe in the segments: "
            f"run `thoughtmill cache rebuild {self.path.parent}` to rebuild it from them"
        )


def index_files(path: Path) -> list[Path]:
    """The index file and SQLite's companions (WAL, shared memory) that exist."""
    return [
        p
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
        if p.exists()
    ]
