"""Text inputs must be UTF-8: a byte that is not is reported with the file, line and column here,
before a library turns it into a traceback far from the file (pyarrow while converting a row, PyYAML
while loading a config)."""

from __future__ import annotations

from pathlib import Path

from thoughtmill.curation.errors import CurationError

#: Suffixes of the text formats thoughtmill reads (binary ones, Parquet and Arrow, are not checked).
TEXT_SUFFIXES = (".json", ".jsonl", ".csv", ".yaml", ".yml", ".txt")


def _explain(path: Path, line: int, column: int, exc: UnicodeDecodeError) -> str:
    bad = exc.object[exc.start : exc.end]
    return (
        f"{path}: line {line}, byte {column} is not UTF-8 text ({exc.reason}: {bad!r}); "
        "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
    )


def read_utf8(path: Path, error: type[CurationError]) -> str:
    """The file's text; a non-UTF-8 byte is ``error`` naming the file, line and column."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(_explain(path, line, column, exc)) from None


def check_utf8(path: Path, error: type[CurationError]) -> None:
    """Read a text file line by line (bounded memory); a non-UTF-8 byte is ``error`` naming the file,
    line and column. Files that are not of a text format are not read."""
    if path.suffix.lower() not in TEXT_SUFFIXES:
        return
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(_explain(path, number, exc.start + 1, exc)) from None
