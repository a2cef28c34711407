"""Dotted ``key=value`` overrides from the command line, for every YAML the project reads.

The pipeline, teacher and training configs all take ``a.b.c=value`` on the command line; the parsing
(YAML scalars, so ``1e-4`` stays a number) and the walk into nested mappings/lists live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml


class OverrideError(ValueError):
    """An override is malformed or names a path the document cannot have."""


def parse_override(item: str, parse: Callable[[str], Any] | None = None) -> tuple[str, Any]:
    """``a.b=value`` -> ("a.b", value parsed as YAML, or by ``parse``); a bare ``key`` is an error naming it."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise OverrideError(
            f"override {item!r}: expected KEY=VALUE (must look like key=value) with a dotted key, "
            "e.g. stages.generate.teacher=deepseek-r1"
        )
    return key.strip(), (parse or parse_value)(raw)


def parse_value(raw: str) -> Any:
    """A command-line value as YAML reads it (``[a, b]`` a list, ``true`` a bool), else the text itself."""
    if not raw.strip():
        return ""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.0.c`` in nested dicts/lists (numbers index lists), creating missing mappings."""
    parts = dotted.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise OverrideError(
                    f"override {dotted!r}: {where} is not an index of a list of {len(node)} items"
                )
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise OverrideError(f"override {dotted!r}: {'.'.join(parts[:depth])} is a value, not a section")
        if last:
            node[part] = value
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]
