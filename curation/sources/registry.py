"""The sources registry: source name (the ``source`` column) -> the factory that builds its adapter.

Adding a source: write its adapter (one file in this folder, the class decorated with
``@register_source``) and import that module in ``curation/sources/__init__.py`` (one line). A source
defined elsewhere (a plugin, a test) calls :func:`register_source` and is then found by name from a
pipeline config like the built-in ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.sources.base import LoadedSource, Source

#: Source name -> factory taking the adapter's options.
SOURCES: dict[str, Callable[..., Source]] = {}

Factory = TypeVar("Factory", bound=Callable[..., Source])


def register_source(factory: Factory, *, name: str | None = None) -> Factory:
    """Register ``factory`` under ``name`` (default: the adapter class's ``name``); usable as a decorator.

    A name already taken is a ValueError (a second adapter must not silently replace the first).
    """
    key = name if name is not None else getattr(factory, "name", None)
    if not isinstance(key, str) or not key:
        raise ValueError(f"register_source: {factory!r} has no name; pass name=...")
    if key in SOURCES:
        raise ValueError(f"source {key!r} is already registered ({SOURCES[key]!r})")
    SOURCES[key] = factory
    return factory


def unregister_source(name: str) -> None:
    """Remove a registered source (a plugin's or a test's); an unknown name is a ConfigError."""
    if name not in SOURCES:
        raise ConfigError(f"unknown source {name!r}; expected one of {sorted(SOURCES)}")
    del SOURCES[name]


def make_source(name: str, **options: Any) -> Source:
    """Build the adapter called ``name``; an unknown name or option is a ConfigError."""
    factory = SOURCES.get(name)
    if factory is None:
        raise ConfigError(f"unknown source {name!r}; expected one of {sorted(SOURCES)}")
    try:
        return factory(**options)
    except TypeError as exc:
        raise ConfigError(f"source {name!r}: bad option(s) {sorted(options)}: {exc}") from exc


def load_source(
    name: str,
    path_or_hub: str | Path | None = None,
    *,
    split: str = "train",
    limit: int | None = None,
    streaming: bool = False,
    **options: Any,
) -> LoadedSource:
    """Load source ``name`` (from ``path_or_hub``, else its Hub dataset): ``(dataset, stats)``."""
    source = make_source(name, **options)
    return source.load_with_stats(path_or_hub, split=split, limit=limit, streaming=streaming)
