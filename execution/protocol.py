"""Framed messages between the pool and its judge worker processes.

A frame is an 8-byte little-endian length then a pickle. Both ends are trusted code (untrusted programs
run in sandboxes the worker starts and never see these pipes), so pickle is fine here. The worker
reads with blocking calls (`read_message`); the pool reads many workers at once without ever blocking
on a half-written frame (`FrameDecoder`).
"""

from __future__ import annotations

import os
import pickle

HEADER = 8


def encode_message(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(HEADER, "little") + data


def write_message(fd: int, obj: object) -> None:
    view = memoryview(encode_message(obj))
    while view:
        view = view[os.write(fd, view) :]


def read_message(fd: int) -> object | None:
    """The next message on a blocking descriptor; None at end of file (the other end is gone)."""
    head = _read_exact(fd, HEADER)
    if head is None:
        return None
    body = _read_exact(fd, int.from_bytes(head, "little"))
    return None if body is None else pickle.loads(body)


def _read_exact(fd: int, size: int) -> bytes | None:
    parts, got = [], 0
    while got < size:
        b = os.read(fd, min(size - got, 1 << 20))
        if not b:
            return None
        parts.append(b)
        got += len(b)
    return b"".join(parts)


class FrameDecoder:
    """Turns bytes read as they come (non-blocking) into whole messages."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[object]:
        self.buf += data
        out: list[object] = []
        while len(self.buf) >= HEADER:
            size = int.from_bytes(self.buf[:HEADER], "little")
            if len(self.buf) < HEADER + size:
                break
            out.append(pickle.loads(bytes(self.buf[HEADER : HEADER + size])))
            del self.buf[: HEADER + size]
        return out
