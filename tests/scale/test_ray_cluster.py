"""The same YAML on a real multi-node Ray cluster (two nodes of 1 CPU on 127.0.0.1, started here).

The verified set is the one ``executor: local`` gives; a Ray worker SIGKILLed in the middle of generate
or verify: the stage finishes on the survivors, nothing lost or duplicated, and the requests sent twice
are at most the killed rank's in-flight window (the fake teachers count every request).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest
from thoughtmill.curation.engine.config import load_teacher
from thoughtmill.curation.errors import CurationError
from thoughtmill.curation.pipeline.executors.ray_cluster import RayExecutor
from thoughtmill.curation.pipeline.runner import run_pipeline

from tests.support.fake_teacher import FakeTeacher

from .conftest import (
    DEMO,
    GEN_SCRIPT,
    JUDGE_SCRIPT,
    KillWhen,
    demo_config,
    math_config,
    quiet,
    teacher,
    verified_rows,
    write_math_source,
)

pytestmark = pytest.mark.slow

#: the engine's in-flight window per rank in these runs (stages.generate.max_in_flight)
WINDOW = 4
#: the judge engine's window: max(2 x max_concurrency, 32), the engine's default
JUDGE_WINDOW = 32


def test_the_demo_on_a_ray_cluster_gives_the_local_verified_set(tmp_path, ray_cluster):
    run_pipeline(demo_config(tmp_path / "local"), echo=quiet)
    ray_run = demo_config(
        tmp_path / "ray", "executor.name=ray", f"executor.address={ray_cluster.address}", "executor.shards=2"
    )
    lines: list[str] = []
    run_pipeline(ray_run, echo=lines.append)
    assert "  generate: 2 shards on executor 'ray', 2 to run" in lines
    assert "  verify: 2 shards on executor 'ray', 2 to run" in lines
    assert verified_rows(tmp_path / "ray") == verified_rows(tmp_path / "local")


def test_the_cli_reaches_the_cluster_through_ray_address(tmp_path, ray_cluster):
    """``thoughtmill run ... executor.name=ray`` in its own process finds the cluster by RAY_ADDRESS alone."""
    run_pipeline(demo_config(tmp_path / "local"), echo=quiet)
    env = {**os.environ, "RAY_ADDRESS": ray_cluster.address}
    cli = [sys.executable, "-m", "thoughtmill.curation.cli", "run", str(DEMO), "executor.name=ray", "executor.shards=2",
           f"run_dir={tmp_path / 'cli'}", "--unsafe-weak-isolation"]  # fmt: skip
    done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "verify: 2 shards on executor 'ray', 2 to run" in done.stdout
    assert verified_rows(tmp_path / "cli") == verified_rows(tmp_path / "local")


def test_a_driver_killed_mid_generate_resumes_with_only_the_windows_resent(tmp_path, ray_cluster):
    """The driver (``thoughtmill run`` in its own process) is SIGKILLed mid-generate; run again, the
    set is whole and at most each rank's in-flight window was asked twice."""
    n = 48
    source = write_math_source(tmp_path / "math.jsonl", n)
    with FakeTeacher(script=GEN_SCRIPT, latency_ms=250) as gen, FakeTeacher(script=JUDGE_SCRIPT) as judge:
        config = math_config(
            tmp_path, source, gen.base_url, judge.base_url,
            executor={"name": "ray", "shards": 2}, max_in_flight=WINDOW,
        )  # fmt: skip
        yaml_path = tmp_path / "run.yaml"
        yaml_path.write_text(config.to_yaml())
        env = {**os.environ, "RAY_ADDRESS": ray_cluster.address}
        cli = [sys.executable, "-m", "thoughtmill.curation.cli", "run", str(yaml_path)]
        driver = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while gen.stats()["requests"] < 16 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.05)
        driver.kill()
        driver.wait(30)
        assert gen.stats()["requests"] < n, "the driver finished before it could be killed"
        done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        stats = gen.stats()
    rows = verified_rows(tmp_path / "run")
    assert len(rows) == n and len({r["id"] for r in rows}) == n
    assert len(stats["per_hash"]) == n
    assert _resent(stats) <= 2 * WINDOW  # both ranks were in flight when the driver died


def test_a_shard_that_fails_reaches_the_driver_as_its_own_error(tmp_path, ray_cluster):
    source = write_math_source(tmp_path / "math.jsonl", 8)
    with FakeTeacher(fail_all_with="500") as gen, FakeTeacher(script=JUDGE_SCRIPT) as judge:
        config = math_config(
            tmp_path, source, gen.base_url, judge.base_url, executor={"name": "ray", "shards": 2}
        )
        with pytest.raises(
            CurationError, match=r"generate: every one of \d+ requests to teacher 'fake' failed"
        ):
            run_pipeline(config, until="generate", echo=quiet)


def _resent(stats: dict) -> int:
    return sum(count - 1 for count in stats["per_hash"].values())


def test_a_worker_killed_mid_generate_loses_and_duplicates_nothing(tmp_path, ray_cluster):
    n = 48
    source = write_math_source(tmp_path / "math.jsonl", n)
    with FakeTeacher(script=GEN_SCRIPT, latency_ms=250) as gen, FakeTeacher(script=JUDGE_SCRIPT) as judge:
        config = math_config(
            tmp_path, source, gen.base_url, judge.base_url,
            executor={"name": "ray", "shards": 2}, max_in_flight=WINDOW,
        )  # fmt: skip
        killer = KillWhen(lambda: gen.stats()["requests"] >= 12)
        killer.start()
        run_pipeline(config, until="verify", echo=quiet)
        killer.stop.set()
        assert killer.killed, "the test never caught a worker running a shard"
        stats = gen.stats()
    rows = verified_rows(tmp_path / "run")
    assert sorted(r["id"] for r in rows) == sorted({r["id"] for r in rows}) and len(rows) == n
    assert sum(r["verified"] for r in rows) == n  # the judge says yes to all
    assert len(stats["per_hash"]) == n  # every problem asked
    assert _resent(stats) <= WINDOW  # only the killed rank's in-flight window was asked again


def test_a_worker_killed_mid_verify_loses_and_duplicates_nothing(tmp_path, ray_cluster):
    n = 48
    source = write_math_source(tmp_path / "math.jsonl", n)
    with FakeTeacher(script=GEN_SCRIPT) as gen, FakeTeacher(script=JUDGE_SCRIPT, latency_ms=250) as judge:
        config = math_config(
            tmp_path, source, gen.base_url, judge.base_url, executor={"name": "ray", "shards": 2}
        )
        killer = KillWhen(lambda: judge.stats()["requests"] >= 12)
        killer.start()
        run_pipeline(config, until="verify", echo=quiet)
        killer.stop.set()
        assert killer.killed, "the test never caught a worker running a shard"
        stats = judge.stats()
    rows = verified_rows(tmp_path / "run")
    assert len(rows) == n and len({r["id"] for r in rows}) == n
    assert all(r["verdict"] for r in rows) and sum(r["verified"] for r in rows) == n
    assert len(stats["per_hash"]) == n
    assert _resent(stats) <= JUDGE_WINDOW


def test_a_pipeline_on_the_cluster_holds_the_teacher_limit_across_ranks(tmp_path, ray_cluster):
    """200 rows, 2 ranks, the teacher at 600 requests/min (a 100-request burst): with one budget for
    both ranks the 100 past the burst wait 10 s; a limiter per rank lets each rank's 100 through at
    once (the stage then takes ~4 s here, all of it Ray and engine start-up)."""
    source = write_math_source(tmp_path / "math.jsonl", 200)
    with FakeTeacher(script=GEN_SCRIPT) as gen, FakeTeacher(script=JUDGE_SCRIPT) as judge:
        config = math_config(
            tmp_path, source, gen.base_url, judge.base_url, executor={"name": "ray", "shards": 2}
        )
        config.stages.generate.teacher["requests_per_minute"] = 600
        report = run_pipeline(config, until="generate", echo=quiet)
        assert gen.stats()["requests"] == 200
    assert report["generate"]["seconds"] >= 9.5


def test_the_judge_teacher_limit_is_held_across_ranks_too(tmp_path, ray_cluster):
    """The same for the verify stage's judge model: 200 judge calls from 2 ranks at 600/min."""
    source = write_math_source(tmp_path / "math.jsonl", 200)
    with FakeTeacher(script=GEN_SCRIPT) as gen, FakeTeacher(script=JUDGE_SCRIPT) as judge:
        config = math_config(
            tmp_path, source, gen.base_url, judge.base_url, executor={"name": "ray", "shards": 2}
        )
        config.stages.verify.math.judge_teacher["requests_per_minute"] = 600
        report = run_pipeline(config, until="verify", echo=quiet)
        assert judge.stats()["requests"] == 200
    assert report["verify"]["seconds"] >= 9.5


def test_one_budget_actor_holds_every_rank_to_the_teacher_limit(tmp_path, ray_cluster):
    """Two Ray tasks draw 75 requests each from the teacher's 600/min budget (a 100-request burst):
    the 50 past the burst wait for the refill (5 s), as one process would."""
    import ray

    executor = RayExecutor()
    budget = executor.budget(load_teacher(teacher("http://127.0.0.1:9", requests_per_minute=600)))
    assert budget is not None

    def rank() -> float:
        async def draw() -> float:
            started = time.monotonic()
            for _ in range(75):
                await budget.acquire(0)
            return time.monotonic() - started

        return asyncio.run(draw())

    started = time.monotonic()
    executor.map([rank, rank])
    assert time.monotonic() - started >= 4.5
    assert budget.count() == 150
    executor.close()
    assert ray.is_initialized()  # the executor leaves a Ray it did not start running


def test_a_run_moved_from_one_machine_to_the_cluster_pays_for_nothing_twice(tmp_path, ray_cluster):
    """Answers bought unsharded (RUN_DIR/cache) are read by both ranks at once on the cluster."""
    n = 24
    source = write_math_source(tmp_path / "math.jsonl", n)
    with FakeTeacher(script=GEN_SCRIPT) as gen, FakeTeacher(script=JUDGE_SCRIPT) as judge:
        local = math_config(tmp_path, source, gen.base_url, judge.base_url)
        run_pipeline(local, until="verify", echo=quiet)
        before = verified_rows(tmp_path / "run")
        for stage in ("generate", "verify"):  # the run is resumed on the cluster before it finished
            (tmp_path / "run" / stage / "_done.json").unlink()
        on_ray = math_config(
            tmp_path, source, gen.base_url, judge.base_url, executor={"name": "ray", "shards": 2}
        )
        run_pipeline(on_ray, until="verify", echo=quiet)
        assert (gen.stats()["requests"], judge.stats()["requests"]) == (n, n)
    assert verified_rows(tmp_path / "run") == before


def test_a_node_that_frees_up_takes_the_next_shard(tmp_path, ray_cluster):
    """One long shard and eight short ones on two 1-CPU nodes: every short one runs on the other node
    while the long one runs; none is queued behind it."""
    executor = RayExecutor()
    log = tmp_path / "log"
    log.mkdir()

    def shard(name: str, seconds: float):
        def run() -> None:
            started = time.time()
            time.sleep(seconds)  # holds its CPU slot, as a busy shard does
            (log / name).write_text(f"{started} {time.time()}")

        return run

    shorts = [f"short{k}" for k in range(8)]
    executor.map([shard("long", 5.0)] + [shard(name, 0.1) for name in shorts])
    times = {p.name: [float(t) for t in p.read_text().split()] for p in log.iterdir()}
    assert set(times) == {"long", *shorts}
    assert all(times[name][1] < times["long"][1] for name in shorts), times
    executor.close()


def test_ranks_reading_an_earlier_cache_with_a_damaged_index_at_once_still_pay_nothing(tmp_path, ray_cluster):
    """RUN_DIR/cache's index is garbage when the run moves to the cluster: both ranks would open it at
    once, and neither could rebuild it while the other holds it open."""
    n = 24
    source = write_math_source(tmp_path / "math.jsonl", n)
    with FakeTeacher(script=GEN_SCRIPT) as gen, FakeTeacher(script=JUDGE_SCRIPT) as judge:
        run_pipeline(
            math_config(tmp_path, source, gen.base_url, judge.base_url), until="generate", echo=quiet
        )
        (tmp_path / "run" / "cache" / "index.sqlite").write_bytes(b"not a database" * 100)
        (tmp_path / "run" / "generate" / "_done.json").unlink()
        on_ray = math_config(
            tmp_path, source, gen.base_url, judge.base_url, executor={"name": "ray", "shards": 2}
        )
        run_pipeline(on_ray, until="generate", echo=quiet)
        assert gen.stats()["requests"] == n
