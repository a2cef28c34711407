"""Append-only files that hold the cached answers; each entry is a self-checking record.

An answer written inline into SQLite costs its size twice (the WAL, then the checkpoint into the
database) and dominates the cache's cost per row; appending it to a file costs well under a
microsecond. Each ``ResponseCache`` writes its own segment file (named uniquely, so several
processes can share one cache directory), flushes the bytes to the OS before the index rows that
point at them are committed, and rolls over to a new file past ``max_bytes``.

A record carries its key and a CRC-32 of key and body, and its header carries its own CRC:

    magic "TMc1" | key length u32 | body length u32 | crc32(key + body) u32 | crc32(header) u32 | key | body

so a read through the index proves it got the very bytes stored for that key (a flipped bit, a
truncated file or a wrong pointer are all caught, never served), and the segments alone are enough
to rebuild the index: :func:`scan` walks a file record by record, skips damaged stretches (the next
record is found by its magic) and stops before a torn tail.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAGIC = b"TMc1"
_HEAD = struct.Struct("<4sIII")  # magic, key length, body length, crc32(key + body)
_HEAD_CRC = struct.Struct("<I")
HEADER_BYTES = _HEAD.size + _HEAD_CRC.size
_RECORD_HEAD = struct.Struct("<4sIIII")  # both at once
SUFFIX = ".seg"


class DamagedRecord(Exception):
    """The bytes at a pointer are not the record the index says (the message says what is wrong)."""


@dataclass(frozen=True)
class Pointer:
    """Where one record lives: segment file name, byte offset, record length (header included)."""

    segment: str
    offset: int
    length: int


def encode_record(key: str, body: bytes) -> bytes:
    key_bytes = key.encode()
    head = _HEAD.pack(MAGIC, len(key_bytes), len(body), zlib.crc32(body, zlib.crc32(key_bytes)))
    return head + _HEAD_CRC.pack(zlib.crc32(head)) + key_bytes + body


def decode_record(data: bytes | memoryview, expected_key: str | None = None) -> tuple[str, bytes]:
    """(key, body) of one whole record; raises :class:`DamagedRecord` naming what does not hold."""
    if len(data) < HEADER_BYTES:
        raise DamagedRecord(f"{len(data)} bytes, shorter than a record header (truncated)")
    view = memoryview(data)
    magic, key_len, body_len, crc, head_crc = _RECORD_HEAD.unpack_from(view)
    # reading through the index, the key, the length and the checksum of key + body prove the record;
    # the header's own checksum matters when scanning (it is what makes a length trustworthy)
    if magic != MAGIC or (expected_key is None and head_crc != zlib.crc32(view[: _HEAD.size])):
        raise DamagedRecord("the record header fails its checksum")
    if HEADER_BYTES + key_len + body_len != len(view):
        raise DamagedRecord(
            f"the record holds {key_len + body_len} bytes, the index says {len(view) - HEADER_BYTES}"
        )
    if zlib.crc32(view[HEADER_BYTES:]) != crc:  # key and body are contiguous: one pass over both
        raise DamagedRecord("the record's bytes fail their checksum (changed on disk)")
    key = bytes(view[HEADER_BYTES : HEADER_BYTES + key_len]).decode(errors="replace")
    if expected_key is not None and key != expected_key:
        raise DamagedRecord(f"the record is for another key ({key[:16]}...)")
    return key, bytes(view[HEADER_BYTES + key_len :])


@dataclass(frozen=True)
class ScanResult:
    """What :func:`scan` found in one segment from a start offset."""

    records: list[tuple[str, Pointer]]  # (key, where), in file order
    damaged: list[tuple[int, int]]  # (offset, length) of stretches that are not valid records
    end: int  # where the next scan should start: the end of the file, or the start of a torn tail


def scan(path: Path, start: int = 0) -> ScanResult:
    """The valid records of a segment file from ``start`` on (a torn tail is left for later)."""
    records: list[tuple[str, Pointer]] = []
    damaged: list[tuple[int, int]] = []
    size = path.stat().st_size
    if size <= start:  # nothing new (or the file shrank below what was indexed: start over from its end)
        return ScanResult(records, damaged, min(size, start))
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = start
        while at < size:
            if size - at < HEADER_BYTES:
                break  # a torn header at the very end: perhaps a writer is still writing it
            magic, key_len, body_len, _ = _HEAD.unpack_from(data, at)
            header_ok = magic == MAGIC and _HEAD_CRC.unpack_from(data, at + _HEAD.size)[0] == zlib.crc32(
                data[at : at + _HEAD.size]
            )
            if not header_ok:  # a whole header is never half-written: this is damage; find the next record
                nxt = data.find(MAGIC, at + 1)
                stop = size if nxt < 0 else nxt
                damaged.append((at, stop - at))
                at = stop
                continue
            length = HEADER_BYTES + key_len + body_len
            if at + length > size:
                break  # a torn record at the end
            try:
                key, _ = decode_record(memoryview(data)[at : at + length])
            except DamagedRecord:
                damaged.append((at, length))
            else:
                records.append((key, Pointer(path.name, at, length)))
            at += length
        return ScanResult(records, damaged, at)


class SegmentStore:
    """Append records, get back pointers; read a record back from its pointer, checked."""

    def __init__(self, directory: Path, max_bytes: int = 1 << 30) -> None:
        self.directory = directory / "segments"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._name: str | None = None
        self._file: BinaryIO | None = None
        self._size = 0
        self._readers: dict[str, int] = {}

    def append(self, records: list[bytes]) -> list[Pointer]:
        """Write whole records at the end of this process's segment (one write, flushed to the OS)."""
        if self._file is None or self._size >= self.max_bytes:
            self._roll()
        assert self._file is not None and self._name is not None
        pointers = []
        offset = self._size
        for record in records:
            pointers.append(Pointer(self._name, offset, len(record)))
            offset += len(record)
        self._file.write(b"".join(records))
        self._file.flush()
        self._size = offset
        return pointers

    @property
    def writing(self) -> tuple[str, int] | None:
        """This process's segment and how far it has written, if it has written anything."""
        return (self._name, self._size) if self._name is not None else None

    def read(self, pointer: Pointer, key: str) -> bytes:
        """The body stored for ``key`` at ``pointer``; :class:`DamagedRecord` if it is not intact."""
        try:
            fd = self._readers.get(pointer.segment)
            if fd is None:
                fd = self._readers[pointer.segment] = os.open(self.directory / pointer.segment, os.O_RDONLY)
            data = os.pread(fd, pointer.length, pointer.offset)
        except OSError as exc:
            raise DamagedRecord(f"cannot read segment {pointer.segment}: {exc.strerror or exc}") from exc
        if len(data) != pointer.length:
            raise DamagedRecord(f"segment {pointer.segment} ends before the record does (truncated)")
        return decode_record(data, key)[1]

    def names(self) -> list[str]:
        """Segment file names, oldest first (names start with their creation time)."""
        return sorted(p.name for p in self.directory.glob(f"*{SUFFIX}"))

    def path(self, name: str) -> Path:
        return self.directory / name

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
        self._name = f"{time.time_ns():016x}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        self._file = open(self.directory / self._name, "ab")  # noqa: SIM115 - lives as long as the store
        self._size = 0
