"""The executor seam on one machine: sharded stages give the same set as one shard, per-rank markers
make a re-run redo only unfinished shards, and the ``executor:`` key is checked when the config loads."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import pytest
from thoughtmill.curation.engine.ratelimit import SharedBudget
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.pipeline.executors import EXECUTORS, make_executor
from thoughtmill.curation.pipeline.executors.ray_cluster import import_ray
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.pipeline.sharding import SHARD_MARKER, shard_of

from .conftest import demo_config, quiet, verified_rows


def test_sharded_run_gives_the_same_verified_set_as_one_shard(tmp_path):
    run_pipeline(demo_config(tmp_path / "one"), echo=quiet)
    run_pipeline(demo_config(tmp_path / "three", "executor.name=local", "executor.shards=3"), echo=quiet)
    one, three = verified_rows(tmp_path / "one"), verified_rows(tmp_path / "three")
    assert len(one) > 20
    assert three == one  # same ids in the same order, same verdicts and texts
    shards = sorted((tmp_path / "three" / "generate" / "shards").iterdir())
    assert [p.name for p in shards] == ["00000-of-00003", "00001-of-00003", "00002-of-00003"]
    for shard in shards:  # each rank has its own cache partition and a marker with relative paths
        assert (shard / "cache").is_dir()
        marker = json.loads((shard / SHARD_MARKER).read_text())
        assert marker["dataset"].startswith("generate/shards/")
    summary = json.loads((tmp_path / "three" / "verify" / "_done.json").read_text())["summary"]
    assert summary["shards"] == 3 and summary["rows"] == len(one)
    # the run's heartbeat is the driver's (every stage in it); each shard beats in its own folder
    progress = json.loads((tmp_path / "three" / "progress.json").read_text())
    assert progress["status"] == "finished" and {"generate", "verify", "card"} <= set(progress["stages"])
    history = [json.loads(line) for line in (tmp_path / "three" / "progress.jsonl").read_text().splitlines()]
    elapsed = [record["elapsed_s"] for record in history]
    assert elapsed == sorted(elapsed)  # one writer: a shard's own clock never restarts the run's
    assert (tmp_path / "three" / "verify" / "shards" / "00000-of-00003" / "progress.json").exists()


def test_a_rerun_redoes_only_the_unfinished_shards(tmp_path):
    run_dir = tmp_path / "run"
    config = demo_config(run_dir, "executor.name=local", "executor.shards=3")
    run_pipeline(config, until="verify", echo=quiet)
    before = verified_rows(run_dir)
    shards = run_dir / "verify" / "shards"
    kept = {p.parent.name: p.stat().st_mtime_ns for p in shards.glob(f"*/{SHARD_MARKER}")}
    # the run died after ranks 0 and 2 finished: rank 1's marker and the stage's marker never written
    (shards / "00001-of-00003" / SHARD_MARKER).unlink()
    (run_dir / "verify" / "_done.json").unlink()
    lines: list[str] = []
    run_pipeline(config, until="verify", echo=lines.append)
    assert "  verify: 3 shards on executor 'local', 1 to run (2 finished earlier)" in lines
    after = {p.parent.name: p.stat().st_mtime_ns for p in shards.glob(f"*/{SHARD_MARKER}")}
    assert after["00000-of-00003"] == kept["00000-of-00003"]
    assert after["00002-of-00003"] == kept["00002-of-00003"]
    assert after["00001-of-00003"] != kept["00001-of-00003"]
    assert verified_rows(run_dir) == before


def test_force_redoes_every_shard(tmp_path):
    run_dir = tmp_path / "run"
    config = demo_config(run_dir, "executor.name=local", "executor.shards=2")
    run_pipeline(config, until="verify", echo=quiet)
    lines: list[str] = []
    run_pipeline(config, until="verify", force=["verify"], echo=lines.append)
    assert "  verify: 2 shards on executor 'local', 2 to run" in lines


def test_more_shards_than_rows_leave_empty_ranks_that_still_finish(tmp_path):
    run_dir = tmp_path / "run"
    run_pipeline(
        demo_config(run_dir, "executor.name=local", "executor.shards=48"), until="generate", echo=quiet
    )
    markers = [json.loads(p.read_text()) for p in (run_dir / "generate" / "shards").glob(f"*/{SHARD_MARKER}")]
    assert len(markers) == 48
    empty = [m for m in markers if m["rows"] == 0]
    assert empty and all(m["dataset"] is None for m in empty)
    summary = json.loads((run_dir / "generate" / "_done.json").read_text())["summary"]
    assert summary["rows"] == sum(m["rows"] for m in markers) > 20


def test_rows_land_on_a_stable_rank():
    ids = [f"row-{k}" for k in range(4000)]
    ranks = shard_of(ids, 4)
    assert ranks.tolist() == shard_of(ids, 4).tolist()
    assert shard_of(["row-0", "row-1", "row-2"], 4).tolist() == [3, 0, 2]  # pinned: caches depend on it
    counts = [int((ranks == r).sum()) for r in range(4)]
    assert min(counts) > 900  # spread evenly


def test_executor_key_is_checked_when_the_config_loads(tmp_path):
    assert demo_config(tmp_path, "executor=ray").executor.name == "ray"
    assert demo_config(tmp_path).executor.name == "local"
    with pytest.raises(ConfigError, match=r"unknown executor 'slurm'; known: local, ray"):
        demo_config(tmp_path, "executor=slurm")
    with pytest.raises(ConfigError, match=r"executor\.shards"):
        demo_config(tmp_path, "executor.name=local", "executor.shards=0")
    # executor=ray then a setting: the second override replaces the name by a section; never a silent local
    with pytest.raises(ConfigError, match=r"need the executor's name beside them, e\.g\. executor\.name=ray"):
        demo_config(tmp_path, "executor=ray", "executor.shards=2")
    assert set(EXECUTORS) >= {"local", "ray"}


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as if it were not installed
    with pytest.raises(ConfigError, match=r"pip install 'thoughtmill\[ray\]'"):
        import_ray()
    with pytest.raises(ConfigError, match=r"pip install 'thoughtmill\[ray\]'"):
        make_executor("ray")


def test_a_shared_budget_holds_two_ranks_to_one_limit():
    """Two ranks drawing 75 requests each from one 600/min budget (a 100-request burst): the 50 past
    the burst wait for the refill, 5 s; two budgets of their own would have let both through at once."""

    async def ranks(budgets: list[SharedBudget]) -> float:
        started = time.monotonic()

        async def rank(budget: SharedBudget) -> None:
            for _ in range(75):
                await budget.acquire(0)

        await asyncio.gather(*(rank(b) for b in budgets))
        return time.monotonic() - started

    shared = SharedBudget(requests_per_minute=600)
    assert asyncio.run(ranks([shared, shared])) >= 4.5
    assert shared.count() == 150
    assert asyncio.run(ranks([SharedBudget(600), SharedBudget(600)])) < 1.0


def _sandboxes_asked(monkeypatch) -> list:
    """The ``workers`` every code-judge batch asked the sandbox for (recorded, then run as asked)."""
    from thoughtmill import execution

    asked: list = []
    real = execution.run_batch

    def recording(*args, **kwargs):
        asked.append(kwargs.get("workers"))
        return real(*args, **kwargs)

    monkeypatch.setattr(execution, "run_batch", recording)  # the code judge imports it when judging
    return asked


def test_a_shard_runs_as_many_sandboxes_as_the_cpus_its_executor_gave_it(tmp_path, monkeypatch):
    """On a cluster each shard task asks for ``cpus_per_shard`` CPUs and a node runs as many shards as
    it has CPUs: a shard sizing its sandboxes to the whole machine would oversubscribe it."""
    from thoughtmill.curation.pipeline.executors.local import LocalExecutor

    class OneCpuPerShard(LocalExecutor):
        def shard_cpus(self) -> float:
            return 1.0

    monkeypatch.setitem(EXECUTORS, "one-cpu", OneCpuPerShard)
    asked = _sandboxes_asked(monkeypatch)
    run_pipeline(
        demo_config(tmp_path / "a", "executor.name=one-cpu", "executor.shards=2"), until="verify", echo=quiet
    )
    assert asked and set(asked) == {1}
    asked.clear()  # one process, shards one at a time: the machine's default
    run_pipeline(
        demo_config(tmp_path / "b", "executor.name=local", "executor.shards=2"), until="verify", echo=quiet
    )
    assert asked and set(asked) == {None}
    asked.clear()  # the config's workers always win
    config = demo_config(tmp_path / "c", "executor.name=one-cpu", "stages.verify.code.workers=3")
    run_pipeline(config, until="verify", echo=quiet)
    assert asked and set(asked) == {3}


def test_the_ray_executor_gives_each_shard_its_cpus_per_shard(ray_cluster):
    executor = make_executor("ray", cpus_per_shard=2.0)
    try:
        assert executor.shard_cpus() == 2.0
    finally:
        executor.close()
