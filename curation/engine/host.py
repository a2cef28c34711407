"""Hosting an async run in the caller's process: from plain code or from inside a running event loop.

``LLM(...)(rows)`` is a plain call, but users call it from Jupyter (a loop is already running) as
often as from scripts; there the run gets its own loop on a helper thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its value (works inside a running event loop too).

    An error comes out as itself: not chained to the "no running event loop" probe, and not
    wrapped by the helper thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="thoughtmill-engine")
    thread.start()
    thread.join()
    if "error" in box:
        raise box.pop("error")
    return box["value"]


@contextlib.contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """Keep what existed before the run out of the garbage collector's full passes while it lasts.

    Importing datasets, pyarrow and pandas leaves ~120k long-lived objects, and every full
    collection the run's garbage triggers rescans them all: ~8% of the loop's CPU at full speed.
    ``gc.freeze`` sets them aside (nothing is lost: they are still freed once unreachable after
    ``unfreeze``).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
