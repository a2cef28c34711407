"""Source adapters: each loads one real dataset (Hub or local file), applies the published filters and
returns it in the uniform problem schema, with counts of what each filter dropped.

    >>> ds, stats = load_source("numina_math", "tests/data/sources/numina_math.jsonl")
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.sources.apps import Apps
from thoughtmill.curation.sources.base import LoadedSource, Source, SourceStats
from thoughtmill.curation.sources.camel import Camel
from thoughtmill.curation.sources.code_contests import CodeContests
from thoughtmill.curation.sources.codeforces import Codeforces
from thoughtmill.curation.sources.numina import NuminaMath
from thoughtmill.curation.sources.riddle_sense import RiddleSense
from thoughtmill.curation.sources.taco import Taco

#: Registry: source name (the ``source`` column) -> factory taking the adapter's options.
SOURCES: dict[str, Callable[..., Source]] = {
    "taco": Taco,
    "apps": Apps,
    "code_contests": CodeContests,
    "codeforces": Codeforces,
    "numina_math": NuminaMath,
    "camel_physics": partial(Camel, "physics"),
    "camel_chemistry": partial(Camel, "chemistry"),
    "camel_biology": partial(Camel, "biology"),
    "riddle_sense": RiddleSense,
}


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


__all__ = ["SOURCES", "LoadedSource", "Source", "SourceStats", "load_source", "make_source"]
