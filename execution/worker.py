"""A judge worker process: ``python -m execution.worker``, driven by `execution.pool` over pipes.

Frames both ways are 8-byte little-endian length + pickle (both ends are trusted code: the untrusted
programs run in sandboxes this worker starts, and never see these pipes). Requests:
``("config", Config | None)`` then any number of ``("chunk", [(idx, code, test_cases), ...], limits, mode)``;
each chunk is answered with ``[(idx, verdict_dict), ...]``.
"""

from __future__ import annotations

import os
import pickle
import sys


def _read(fd: int) -> object | None:
    head = b""
    while len(head) < 8:
        b = os.read(fd, 8 - len(head))
        if not b:
            return None
        head += b
    size = int.from_bytes(head, "little")
    parts, got = [], 0
    while got < size:
        b = os.read(fd, min(size - got, 1 << 20))
        if not b:
            return None
        parts.append(b)
        got += len(b)
    return pickle.loads(b"".join(parts))


def _write(fd: int, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[os.write(fd, view) :]


def main() -> None:
    # Our stdin/stdout are the pipes to the pool; keep them away from anything that prints.
    fd_in, fd_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    from thoughtmill.execution import pool
    from thoughtmill.execution import sandbox as sb

    sb.become_subreaper()
    while True:
        msg = _read(fd_in)
        if msg is None:
            return
        if msg[0] == "config":
            if msg[1] is not None:
                sb._CONFIG = msg[1]
            continue
        _, chunk, limits, mode = msg
        _write(fd_out, pool.judge_chunk(chunk, limits, mode))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
