"""Whole-file replacement: a reader (``status`` in another process, a resumed run) sees the old file or
the new one, never half of either."""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` at once (write a sibling, then rename over). The sibling is this
    process's own, so two processes writing the same file (shards beating one heartbeat) never mix."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
