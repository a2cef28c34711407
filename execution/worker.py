"""A judge worker process, started and driven by `execution.pool` over its stdin/stdout pipes.

Messages (see `execution.protocol`): the pool sends ``("config", Config | None)`` once, then any number
of ``("chunk", [(index, code, test_cases), ...], limits, mode)``; the worker answers every solution as
soon as it is judged with ``(index, verdict_dict)``, so the pool can hold each judgement to a deadline.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    # Our stdin/stdout are the pipes to the pool; keep them away from anything that prints.
    fd_in, fd_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    from thoughtmill.execution import sandbox as sb
    from thoughtmill.execution.protocol import read_message, write_message
    from thoughtmill.execution.work import judge_items

    sb.become_subreaper()
    config: sb.Config | None = None
    while True:
        msg = read_message(fd_in)
        if msg is None:
            return
        if msg[0] == "config":
            config = msg[1]
            continue
        _, chunk, limits, mode = msg
        for answer in judge_items(chunk, limits, mode, config):
            write_message(fd_out, answer)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
