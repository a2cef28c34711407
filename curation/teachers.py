"""A teacher named in a pipeline config: a bundled name, a YAML path or an inline mapping.

Generation and the LLM judges name their teachers the same way; ``resolve_teacher`` loads one and
names the config field when it is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from thoughtmill.curation.engine.config import TeacherConfig, bundled_teachers_dir, load_teacher
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.utf8 import check_utf8, read_utf8

#: How a config names a teacher.
TeacherSpec = str | dict[str, Any]
#: Config keys that hold a teacher spec (generation and question filters; LLM judges)
TEACHER_KEYS = ("teacher", "judge_teacher")


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


def expand_named_teacher(data: dict[str, Any], dotted: str, base: Path) -> None:
    """Make ``stages.generate.teacher.max_concurrency=4`` work on a teacher given by name or file.

    When the override's path runs through a teacher spec that is a string (``teacher: deepseek-r1``),
    the teacher's own mapping (its YAML, bundled or a file relative to ``base``) takes the string's
    place first, so one field changes and the rest of the named teacher stays.
    """
    node: Any = data
    for part in dotted.split(".")[:-1]:
        if not isinstance(node, dict):
            return
        child = node.get(part)
        if part in TEACHER_KEYS and isinstance(child, str):
            mapping = _named_teacher_mapping(child, base)
            if mapping is None:
                bundled = ", ".join(sorted(p.stem for p in bundled_teachers_dir().glob("*.yaml")))
                raise ConfigError(
                    f"override {dotted}: teacher '{child}' is no file and no bundled teacher, so none of "
                    f"its fields can be set (bundled: {bundled})"
                )
            node[part] = mapping
            return
        node = child


def _named_teacher_mapping(spec: str, base: Path) -> dict[str, Any] | None:
    candidates = [base / spec, Path(spec), bundled_teachers_dir() / f"{spec}.yaml"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return None
    try:
        data = yaml.safe_load(read_utf8(path, ConfigError))
    except yaml.YAMLError as exc:
        raise ConfigError(f"teacher config {path} is not valid YAML: {exc}") from exc
    return data if isinstance(data, dict) else None
