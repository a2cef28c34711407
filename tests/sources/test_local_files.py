"""A local source file's identity: what a run fingerprints a local source by (issue 12, stale resume)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from thoughtmill.curation.errors import InputError
from thoughtmill.curation.sources import file_identity, load_source


def fingerprint(path: Path) -> list[tuple[str, int, str]]:
    """What a stage fingerprint should cover: name, size and content digest (not the mtime)."""
    return [(f["file"], f["size"], f["blake2b"]) for f in file_identity(path)["files"]]


def test_appending_a_row_or_editing_in_place_changes_the_identity(tmp_path: Path, data: Path) -> None:
    path = tmp_path / "numina_math.jsonl"
    shutil.copy(data / "numina_math.jsonl", path)
    before = fingerprint(path)
    lines = path.read_text().splitlines(keepends=True)
    with path.open("a") as handle:
        handle.write(lines[0])
    appended = fingerprint(path)
    assert appended != before and appended[0][1] > before[0][1]
    # The same size, one character changed in a middle row, the mtime put back: only the digest sees it.
    stat = path.stat()
    text = path.read_text()
    middle = len(text) // 2
    path.write_text(text[:middle] + ("X" if text[middle] != "X" else "Y") + text[middle + 1 :])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    edited = fingerprint(path)
    assert edited[0][1] == appended[0][1] and edited != appended
    assert file_identity(path)["files"][0]["mtime_ns"] == stat.st_mtime_ns


def test_a_copy_elsewhere_has_the_same_identity(tmp_path: Path, data: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(data / "taco.jsonl", tmp_path / "a" / "taco.jsonl")
    shutil.copy(data / "taco.jsonl", tmp_path / "b" / "taco.jsonl")
    os.utime(tmp_path / "b" / "taco.jsonl", ns=(0, 0))
    assert fingerprint(tmp_path / "a" / "taco.jsonl") == fingerprint(tmp_path / "b" / "taco.jsonl")
    assert "/" not in str(file_identity(tmp_path / "a" / "taco.jsonl"))  # no absolute path in it


def test_a_folder_lists_the_files_the_source_reads(tmp_path: Path, data: Path) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    shutil.copy(data / "taco.jsonl", folder / "part-1.jsonl")
    shutil.copy(data / "taco.jsonl", folder / "part-0.jsonl")
    (folder / "README.md").write_text("not data")
    assert [f["file"] for f in file_identity(folder)["files"]] == ["part-0.jsonl", "part-1.jsonl"]
    one = load_source("taco", data / "taco.jsonl").stats.read
    assert load_source("taco", folder).stats.read == 2 * one  # the same files are read


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.jsonl does not exist"):
        file_identity(tmp_path / "nowhere.jsonl")
