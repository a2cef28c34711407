"""The heartbeat: progress.json while a run goes, what status says of a run killed mid-stage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from thoughtmill.curation.pipeline.heartbeat import Heartbeat, read_progress
from thoughtmill.curation.pipeline.status import format_status, status_view

from tests.report.conftest import DEMO
from tests.report.jobs import kill, pipeline_job, wait_for

pytestmark = pytest.mark.slow


def test_status_of_a_run_killed_mid_verify(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with pipeline_job(DEMO, run_dir) as job:
        live = wait_for(
            run_dir / "progress.json", lambda s: (s["stages"].get("verify") or {}).get("done", 0) >= 2
        )
        view = status_view(run_dir)
        assert view["run"]["status"] == "running" and view["run"]["alive"]
        verify = next(s for s in view["stages"] if s["stage"] == "verify")
        assert verify["state"] == "running" and verify["total"] == 36
        assert live["pid"] == job.pid
        kill(job)
    view = status_view(run_dir)
    assert view["run"]["status"] == "interrupted" and not view["run"]["alive"]
    states = {s["stage"]: s["state"] for s in view["stages"]}
    assert states["generate"] == "done" and states["verify"] == "interrupted"
    assert states["write"] == "not started"
    text = "\n".join(format_status(view))
    assert "run: interrupted" in text and "ProcessGone" in text
    verify = next(s for s in view["stages"] if s["stage"] == "verify")
    assert 2 <= verify["done"] < 36 and f"{verify['done']}/36 rows" in text


def test_plain_progress_lines_whatever_the_log_level(tmp_path: Path, capsys) -> None:
    beat = Heartbeat(tmp_path, every_s=0, print_every_s=0)
    beat.stage_started("verify", "not run before")
    beat.stage_progress("verify", 5, 20)
    beat.stage_progress("generate", 3, 10, announce=False, cost_usd=0.5)
    err = capsys.readouterr().err
    assert "[verify] 5/20 rows (25%)" in err and "generate" not in err
    state = read_progress(tmp_path)
    assert state["cost_usd"] == 0.5 and state["stages"]["verify"]["done"] == 5
    history = (tmp_path / "progress.jsonl").read_text().splitlines()
    assert len(history) == 3 and json.loads(history[-1])["cost_usd"] == 0.5


def test_a_torn_or_foreign_heartbeat_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "progress.json").write_text('{"status": "runn')
    assert read_progress(tmp_path) is None
    (tmp_path / "progress.json").write_text("[1, 2]")
    assert read_progress(tmp_path) is None


def _watch(run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from thoughtmill.curation.cli import main; main(sys.argv[1:])",
         "status", str(run_dir), "--watch", "--interval", "0.2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_status_watch_follows_a_live_run_to_its_end_and_shows_a_killed_one_once(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with pipeline_job(DEMO, run_dir) as job:
        wait_for(run_dir / "progress.json", lambda s: s.get("current") == "sources")
        watched = _watch(run_dir)  # returns when the run ends
        assert job.wait(60) == 0
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.count("run: running") >= 2 and watched.stdout.rstrip().count("run: finished") == 1

    again = tmp_path / "again"
    with pipeline_job(DEMO, again) as job:
        wait_for(again / "progress.json", lambda s: s.get("current") == "verify")
        kill(job)
    watched = _watch(again)
    assert watched.returncode == 0 and watched.stdout.count("run: interrupted") == 1


def test_status_adds_up_the_shards_of_a_sharded_stage(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first_shard = run_dir / "verify" / "shards" / "00000-of-00002" / "progress.json"
    with pipeline_job(DEMO, run_dir, "executor.name=local", "executor.shards=2") as job:
        wait_for(first_shard, lambda s: (s["stages"].get("verify") or {}).get("done", 0) >= 2)
        kill(job)
    verify = next(s for s in status_view(run_dir)["stages"] if s["stage"] == "verify")
    assert verify["state"] == "interrupted" and verify["shards"] >= 1 and verify["shards_running"] == 0
    assert 2 <= verify["done"] <= verify["total"] <= 36
    assert "shard(s) started, 0 running" in "\n".join(format_status(status_view(run_dir)))
