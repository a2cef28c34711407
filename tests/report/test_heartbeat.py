"""The heartbeat: progress.json while a run goes, what status says of a run killed mid-stage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from thoughtmill.curation.pipeline.heartbeat import EVERY_S_ENV, Heartbeat, read_progress
from thoughtmill.curation.pipeline.status import format_status, status_view

from tests.report.conftest import DEMO, ROOT

pytestmark = pytest.mark.slow


def _wait_for(path: Path, test, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            state = None
        if state and test(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached the state wanted")


def test_status_of_a_run_killed_mid_verify(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, EVERY_S_ENV: "0"}  # a heartbeat on every judged row
    job = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "report" / "run_job.py"), str(DEMO), str(run_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        live = _wait_for(
            run_dir / "progress.json",
            lambda s: (s["stages"].get("verify") or {}).get("done", 0) >= 2,
        )
        view = status_view(run_dir)
        assert view["run"]["status"] == "running" and view["run"]["alive"]
        verify = next(s for s in view["stages"] if s["stage"] == "verify")
        assert verify["state"] == "running" and verify["total"] == 36
        assert live["pid"] == job.pid
        job.send_signal(signal.SIGKILL)
        job.wait(30)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
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
    command = [sys.executable, str(ROOT / "tests" / "report" / "run_job.py"), str(DEMO), str(run_dir)]
    env = {**os.environ, EVERY_S_ENV: "0"}
    job = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(run_dir / "progress.json", lambda s: s.get("current") == "sources")
        watched = _watch(run_dir)  # returns when the run ends
        assert job.wait(60) == 0
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.count("run: running") >= 2 and watched.stdout.rstrip().count("run: finished") == 1

    job = subprocess.Popen([*command[:-1], str(tmp_path / "again")], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_for(tmp_path / "again" / "progress.json", lambda s: s.get("current") == "verify")
    finally:
        job.kill()
        job.wait()
    watched = _watch(tmp_path / "again")
    assert watched.returncode == 0 and watched.stdout.count("run: interrupted") == 1


def test_status_adds_up_the_shards_of_a_sharded_stage(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    job = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "report" / "run_job.py"), str(DEMO), str(run_dir),
         "executor.name=local", "executor.shards=2"],
        env={**os.environ, EVERY_S_ENV: "0"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    first_shard = run_dir / "verify" / "shards" / "00000-of-00002" / "progress.json"
    try:
        _wait_for(first_shard, lambda s: (s["stages"].get("verify") or {}).get("done", 0) >= 2)
        job.send_signal(signal.SIGKILL)
        job.wait(30)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    verify = next(s for s in status_view(run_dir)["stages"] if s["stage"] == "verify")
    assert verify["state"] == "interrupted" and verify["shards"] >= 1 and verify["shards_running"] == 0
    assert 2 <= verify["done"] <= verify["total"] <= 36
    assert "shard(s) started, 0 running" in "\n".join(format_status(status_view(run_dir)))
