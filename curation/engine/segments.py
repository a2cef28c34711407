"""Append-only files that hold the cached answers' bytes; the SQLite index holds where they are.

An answer written inline into SQLite costs its size twice (the WAL, then the checkpoint into the
database) and dominates the cache's cost per row; appending it to a file costs well under a
microsecond. Each ``ResponseCache`` writes its own segment file (named uniquely, so several
processes can share one cache directory), flushes the bytes to the OS before the index rows that
point at them are committed — so a killed process never leaves an index entry without its bytes —
and rolls over to a new file past ``max_bytes``. Bytes whose index entry was replaced stay behind
unreferenced; answers are written once, so that is rare.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import BinaryIO

POINTER = b"s"  # first byte of an index value that points into a segment


class SegmentStore:
    """Append blobs, get back small pointers; read a blob back from its pointer."""

    def __init__(self, directory: Path, max_bytes: int = 1 << 30) -> None:
        self.directory = directory / "segments"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._name: str | None = None
        self._file: BinaryIO | None = None
        self._size = 0
        self._readers: dict[str, int] = {}

    def append(self, blobs: list[bytes]) -> list[bytes]:
        """Write ``blobs`` at the end of this process's segment (one write, flushed to the OS)."""
        if self._file is None or self._size >= self.max_bytes:
            self._roll()
        assert self._file is not None and self._name is not None
        pointers = []
        offset = self._size
        for blob in blobs:
            pointers.append(POINTER + f"{self._name}:{offset}:{len(blob)}".encode())
            offset += len(blob)
        self._file.write(b"".join(blobs))
        self._file.flush()
        self._size = offset
        return pointers

    def read(self, pointer: bytes) -> bytes:
        name, offset, length = pointer[1:].decode().split(":")
        fd = self._readers.get(name)
        if fd is None:
            fd = self._readers[name] = os.open(self.directory / name, os.O_RDONLY)
        data = os.pread(fd, int(length), int(offset))
        if len(data) != int(length):
            raise OSError(f"cache segment {self.directory / name} is shorter than its index says")
        return data

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        for fd in self._readers.values():
            os.close(fd)
        self._readers.clear()

    def _roll(self) -> None:
        if self._file is not None:
            self._file.close()
        self._name = f"{time.time_ns():x}-{os.getpid()}-{uuid.uuid4().hex[:8]}.seg"
        self._file = open(self.directory / self._name, "ab")  # noqa: SIM115 - lives as long as the store
        self._size = 0
