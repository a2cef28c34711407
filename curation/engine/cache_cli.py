"""``thoughtmill cache check|rebuild DIR``: verify every cached answer, or rebuild the index from the segments.

DIR is a cache folder, or a folder holding one in ``cache/`` (a pipeline run directory, an ``LLM``
working directory). For a run directory, every shard's cache partition (``<stage>/shards/*/cache``)
is checked or rebuilt too.
"""

from __future__ import annotations

from pathlib import Path

import typer
from thoughtmill.curation.engine.cache import ResponseCache
from thoughtmill.curation.engine.cache_repair import CacheReport, rebuild_cache
from thoughtmill.curation.errors import CurationError

app = typer.Typer(
    help="Check the response cache, or rebuild its index from the answers on disk.", no_args_is_help=True
)

DIRECTORY = typer.Argument(
    ..., help="a cache folder, or a run / working directory holding one in cache/ (and shard partitions)"
)


@app.command()
def check(directory: Path = DIRECTORY) -> None:
    """Read every cached answer back (key, checksum, decoding); exit 1 if any is damaged."""
    clean = True
    for found in _cache_dirs(directory):
        try:
            with ResponseCache(found) as cache:
                report = cache.check()
        except CurationError as exc:
            raise _fail(exc) from exc
        _print(report)
        clean = clean and report.clean
    if not clean:
        typer.echo(
            "damaged answers are treated as missing (asked again on the next run); nothing altered is served"
        )
        raise typer.Exit(code=1)


@app.command()
def rebuild(directory: Path = DIRECTORY) -> None:
    """Rebuild the index from the segments (needs the cache alone: no run may be using it)."""
    for found in _cache_dirs(directory):
        try:
            report = rebuild_cache(found)
        except CurationError as exc:
            raise _fail(exc) from exc
        _print(report)


def _cache_dirs(directory: Path) -> list[Path]:
    """The cache ``directory`` is, or the one in its ``cache/`` and its shard partitions."""
    if (directory / "segments").is_dir():
        return [directory]
    found = [
        p
        for p in [directory / "cache", *sorted(directory.glob("*/shards/*/cache"))]
        if (p / "segments").is_dir()
    ]
    if found:
        return found
    typer.secho(
        f"error: no cache at {directory} (no segments/ folder there, in {directory / 'cache'} "
        "or in a shard partition <stage>/shards/*/cache)",
        err=True,
    )
    raise typer.Exit(code=2)


def _print(report: CacheReport) -> None:
    for line in report.lines():
        typer.echo(line)


def _fail(exc: CurationError) -> typer.Exit:
    """A busy or damaged cache as one line, not a traceback."""
    typer.secho(f"error: {exc}", err=True)
    return typer.Exit(code=1)
