"""A teacher named in a pipeline config: a bundled name, a YAML path or an inline mapping.

Generation and the LLM judges name their teachers the same way; ``resolve_teacher`` loads one and
names the config field when it is wrong.
"""

from __future__ import annotations

from typing import Any

from thoughtmill.curation.engine.config import TeacherConfig, load_teacher
from thoughtmill.curation.errors import ConfigError

#: How a config names a teacher.
TeacherSpec = str | dict[str, Any]


def resolve_teacher(spec: TeacherSpec, where: str) -> TeacherConfig:
    """Load a teacher spec, naming the config field when it is wrong."""
    try:
        return load_teacher(spec)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
