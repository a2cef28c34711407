"""thoughtmill's curation side: sources, the generation engine, judges and the pipeline.

The package's own import loads nothing heavy: ``LLM``, ``Response`` and ``TeacherConfig`` are imported
from the engine on first use. The training side imports ``thoughtmill.curation.prompts`` (standard
library only) from an environment that has none of the engine's dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from thoughtmill.curation.errors import CurationError

if TYPE_CHECKING:
    from thoughtmill.curation.engine import LLM, Response, TeacherConfig

_FROM_ENGINE = ("LLM", "Response", "TeacherConfig")


def __getattr__(name: str) -> Any:
    if name in _FROM_ENGINE:
        return getattr(importlib.import_module("thoughtmill.curation.engine"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LLM", "CurationError", "Response", "TeacherConfig"]
