"""Whole-file replacement: a reader (``status`` in another process, a resumed run) sees the old file or
the new one, never half of either."""

from __future__ import annotations

from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` at once (write a sibling, then rename over)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
