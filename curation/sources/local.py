"""Local data files: read one (or a folder of them) as a Dataset, and say what a file is (its identity).

Sources read a user's copy of a dataset here, and decontamination reads a benchmark's local file here.
:func:`file_identity` is what a run fingerprints a local source by: editing or appending to the file
changes it, so a resumed run cannot keep results made from the old contents.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import datasets
from thoughtmill.curation.errors import InputError

from thoughtmill.hub import FILE_BUILDERS, builder_for

#: Bytes of JSON Lines the ``json`` builder reads per step. Its default (10 MB) also parses the whole
#: first step into Python objects (its mixed-type scan): ~130 MB held while reading any file over 10 MB.
JSON_CHUNK_BYTES = 2 << 20

#: Bytes hashed per read by :func:`file_identity`.
_HASH_BLOCK = 1 << 20


def _builder_options(builder: str) -> dict[str, Any]:
    return {"chunksize": JSON_CHUNK_BYTES} if builder == "json" else {}


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a ``save_to_disk`` folder."""
    return path.is_dir() and ((path / "state.json").exists() or (path / "dataset_info.json").exists())


def data_files(path: Path) -> list[Path]:
    """The data files a local path stands for: itself, or every file of the first known suffix a folder
    holds (what :func:`read_local` reads), sorted."""
    if not path.is_dir():
        return [path]
    if is_saved_dataset(path):
        return sorted(p for p in path.rglob("*") if p.is_file())
    for suffix in FILE_BUILDERS:
        files = sorted(path.rglob(f"*{suffix}"))
        if files:
            return files
    return []


def read_local(path: Path, *, source: str) -> datasets.Dataset:
    """Read a local file or directory (jsonl/json/parquet/arrow/csv, or a ``save_to_disk`` folder)."""
    if is_saved_dataset(path):
        return datasets.load_from_disk(str(path))
    if path.is_dir():
        files = data_files(path)
        if not files:
            raise InputError(f"source {source!r}: directory {path} holds no {sorted(FILE_BUILDERS)} files")
        builder = builder_for(files[0].name)
        assert builder is not None
        return datasets.load_dataset(
            builder, data_files=[str(f) for f in files], split="train", **_builder_options(builder)
        )
    builder = builder_for(path.name)
    if builder is None:
        raise InputError(
            f"source {source!r}: cannot read {path}: expected one of {sorted(FILE_BUILDERS)} files"
        )
    try:
        return datasets.load_dataset(
            builder, data_files=str(path), split="train", **_builder_options(builder)
        )
    except datasets.exceptions.DatasetGenerationError as exc:
        raise InputError(
            f"source {source!r}: {path} is not a valid {builder} file: {exc.__cause__!r}"
        ) from exc


def file_identity(path: str | Path) -> dict[str, Any]:
    """What a local source is, for fingerprints: per data file its size, ``mtime_ns`` and a BLAKE2b
    digest of its whole contents (a folder lists every file :func:`read_local` would read).

    The full digest decides: an edit that keeps the size (a fixed typo in a middle row) changes it, and
    a copy or ``touch`` that changes only the mtime does not, so fingerprint ``size`` + ``blake2b`` and
    keep ``mtime_ns`` for messages. Hashing reads the file once (about 1 s per GB), small beside
    generating from it. Names are relative (no absolute path), so a moved copy has the same identity.
    A path that does not exist is an InputError.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"local source {path} does not exist")
    files = []
    for file in data_files(path):
        stat = file.stat()
        digest = hashlib.blake2b(digest_size=16)
        with file.open("rb") as handle:
            while block := handle.read(_HASH_BLOCK):
                digest.update(block)
        name = str(file.relative_to(path)) if path.is_dir() else file.name
        files.append(
            {"file": name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "blake2b": digest.hexdigest()}
        )
    return {"files": files}
