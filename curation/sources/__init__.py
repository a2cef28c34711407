"""Source adapters: each loads one real dataset (Hub or local file), applies the published filters and
returns it in the uniform problem schema, with counts of what each filter dropped.

    >>> ds, stats = load_source("numina_math", "tests/data/sources/numina_math.jsonl")

Each adapter module registers itself (``@register_source``); importing it here is its one line.
"""

from __future__ import annotations

from thoughtmill.curation.sources import (  # noqa: F401  (each import registers its adapters)
    apps,
    camel,
    code_contests,
    codeforces,
    numina,
    riddle_sense,
    taco,
)
from thoughtmill.curation.sources.base import LoadedSource, Source, SourceStats
from thoughtmill.curation.sources.local import file_identity
from thoughtmill.curation.sources.registry import (
    SOURCES,
    load_source,
    make_source,
    register_source,
    unregister_source,
)

__all__ = [
    "SOURCES",
    "LoadedSource",
    "Source",
    "SourceStats",
    "file_identity",
    "load_source",
    "make_source",
    "register_source",
    "unregister_source",
]
