"""The command line's smaller frictions: one way to name the run directory, -v, status of a real run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from thoughtmill.curation.cli import main

from tests.report.conftest import DEMO


def _cli(*args: str) -> int:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code or 0)


def test_run_dir_flag_works_on_every_pipeline_command(tmp_path: Path) -> None:
    assert _cli("sources", str(DEMO), "--run-dir", str(tmp_path / "a")) == 0
    assert (tmp_path / "a" / "decontaminate" / "_done.json").exists()
    # an explicit run_dir= override still wins over the flag
    assert _cli("sources", str(DEMO), "--run-dir", str(tmp_path / "b"), f"run_dir={tmp_path / 'c'}") == 0
    assert (tmp_path / "c" / "sources" / "_done.json").exists() and not (tmp_path / "b").exists()


def test_verbose_flag_raises_the_log_level(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = root.level
    try:
        _cli("-v", "status", str(tmp_path / "missing"))
        assert root.level == logging.INFO
        _cli("-vv", "status", str(tmp_path / "missing"))
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(before)


def test_status_of_a_finished_run(demo_run: Path, capsys) -> None:
    assert _cli("status", str(demo_run)) == 0
    text = capsys.readouterr().out
    assert "run: finished" in text and "cost so far: $" in text
    assert "None" not in text  # a stage without a row count says so
    assert "verify        done          36 rows" in text
    assert _cli("status", str(demo_run), "--json") == 0
    view = json.loads(capsys.readouterr().out)
    assert view["run"]["status"] == "finished"
    assert [s["state"] for s in view["stages"]] == ["done"] * len(view["stages"])
