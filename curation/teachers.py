"""A teacher named in a pipeline config: a bundled name, a YAML path or an inline mapping.

Generation and the LLM judges name their teachers the same way; ``resolve_teacher`` loads one and
names the config field when it is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thoughtmill.curation.engine.config import TeacherConfig, load_teacher
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.utf8 import check_utf8

#: How a config names a teacher.
TeacherSpec = str | dict[str, Any]


def resolve_teacher(spec: TeacherSpec, where: str) -> TeacherConfig:
    """Load a teacher spec, naming the config field when it is wrong."""
    try:
        if isinstance(spec, str) and Path(spec).is_file():
            check_utf8(Path(spec), ConfigError)
        return load_teacher(spec)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def check_credentials(teacher: TeacherConfig, where: str) -> None:
    """Fail now, naming the config field, when the teacher's API key (or what else its provider needs
    to authenticate) is missing: before the run pays for anything."""
    try:
        teacher.settings.check_credentials(teacher.label)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
