"""Changing the shard layout of a run directory pays for nothing twice.

A row's cache partition depends on ``executor.shards`` (and an unsharded run keeps its answers in
``RUN_DIR/cache``): a run resumed with another number of shards, or moved from one machine to a
cluster and back, must find the answers the earlier layout bought. "Paid" here is what the fake
teachers (real HTTP servers on 127.0.0.1) received.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import datasets
import pytest
from thoughtmill.curation.card import render_card
from thoughtmill.curation.cli import app
from thoughtmill.curation.engine.batch.ledger import Ledger
from thoughtmill.curation.engine.segments import SegmentStore
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.pipeline.config import PipelineConfig, config_from_dict
from thoughtmill.curation.pipeline.rundir import RunDir
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.pipeline.sharding import refuse_layout_change_with_batches_out
from thoughtmill.curation.pipeline.summary import cost_line
from typer.testing import CliRunner

from tests.support.fake_teacher import FakeTeacher

from .conftest import GEN_SCRIPT, JUDGE_SCRIPT, math_config, quiet, verified_rows, write_math_source

N = 24


def interrupted(run: Path) -> None:
    """The run died before generate and verify wrote their markers (their answers are cached)."""
    for stage in ("generate", "verify"):
        (run / stage / "_done.json").unlink(missing_ok=True)
        for marker in (run / stage).glob("shards/*/_shard_done.json"):
            marker.unlink()


@contextmanager
def math_run(tmp_path: Path) -> Iterator[tuple[FakeTeacher, FakeTeacher, PipelineConfig]]:
    """N math problems, the fake generation and judge teachers, and the run's config (unsharded)."""
    source = write_math_source(tmp_path / "math.jsonl", N)
    with FakeTeacher(script=GEN_SCRIPT) as gen, FakeTeacher(script=JUDGE_SCRIPT) as judge:
        yield gen, judge, math_config(tmp_path, source, gen.base_url, judge.base_url)


def flip_an_answer_byte(cache: Path) -> None:
    """Alter one byte inside the first stored answer of ``cache``."""
    store = SegmentStore(cache)
    segment = store.path(store.names()[0])
    store.close()
    data = bytearray(segment.read_bytes())
    data[data.index(b"So the answer is") + 3] ^= 0x20
    segment.write_bytes(bytes(data))


def with_executor(config: PipelineConfig, executor: dict) -> PipelineConfig:
    data = config.model_dump(mode="json")
    data["executor"] = executor
    return config_from_dict(data)


def engine_summary(run: Path) -> dict:
    return json.loads((run / "generate" / "_done.json").read_text())["summary"]["engine"]


def test_resuming_with_another_layout_pays_for_nothing_twice(tmp_path):
    run = tmp_path / "run"
    with math_run(tmp_path) as (gen, judge, base):
        run_pipeline(base, until="verify", echo=quiet)
        first = verified_rows(run)
        paid = (gen.stats()["requests"], judge.stats()["requests"])
        assert paid == (N, N)

        layouts = [
            {"name": "local", "shards": 3},  # one machine -> three shards
            {"name": "local", "shards": 2},  # three shards -> two
            {"name": "local", "shards": 1},  # two shards -> unsharded, RUN_DIR/cache gone
        ]
        for executor in layouts:
            interrupted(run)
            if executor["shards"] == 1:
                shutil.rmtree(run / "cache")  # only the shard partitions hold the answers now
            run_pipeline(with_executor(base, executor), until="verify", echo=quiet)
            assert (gen.stats()["requests"], judge.stats()["requests"]) == paid, executor
            assert verified_rows(run) == first, executor
            engine = engine_summary(run)
            assert engine["requests_sent"] == 0 and engine["cache_hits"] == N
        # the answers were copied into the layout that read them: the last one holds them all
        assert engine["cache_adopted"] == N
    # a person sees it: the run's cost line and the dataset card say where the answers came from
    assert f"{N} read from another shard layout's cache" in cost_line(engine)
    summaries = {"generate": json.loads((run / "generate" / "_done.json").read_text())["summary"]}
    assert f"({N} from another shard layout)" in render_card("x", summaries)


def test_a_damaged_answer_in_the_earlier_layout_is_asked_again_not_served(tmp_path):
    run = tmp_path / "run"
    with math_run(tmp_path) as (gen, _, base):
        run_pipeline(base, until="generate", echo=quiet)
        flip_an_answer_byte(run / "cache")  # in the unsharded cache
        interrupted(run)
        run_pipeline(with_executor(base, {"name": "local", "shards": 2}), until="generate", echo=quiet)
        stats = gen.stats()
    assert stats["requests"] == N + 1  # the damaged one only
    marker = json.loads((run / "generate" / "_done.json").read_text())
    solutions = datasets.load_from_disk(str(run / marker["dataset"]))["deepseek_solution"]
    assert solutions == ["So the answer is $\\boxed{42}$."] * N  # the altered text never served


def test_batches_out_under_another_layout_stop_the_run_before_anything_is_sent(tmp_path):
    run = tmp_path / "run"
    ledger = Ledger(run / "generate" / "shards" / "00001-of-00002" / "engine" / "batches")
    ledger.spooled("00001", "spool-00001.jsonl", 12, 4096, 1)
    ledger.creating("00001")
    ledger.created("00001", "batch_abc")
    ledger.spooled("00002", "spool-00002.jsonl", 12, 4096, 1)  # spooled only: nothing paid
    ledger.close()
    with math_run(tmp_path) as (gen, _, base):
        for executor in ("local", {"name": "local", "shards": 3}):
            with pytest.raises(ConfigError) as err:
                run_pipeline(with_executor(base, executor), until="generate", echo=quiet)
            message = str(err.value)
            assert "1 under 2 shard(s)" in message and "executor.shards=2" in message
        assert gen.stats()["requests"] == 0
    config = with_executor(base, {"name": "local", "shards": 2})
    refuse_layout_change_with_batches_out(RunDir(config), "generate", 2)  # its own layout: collects them
    ledger = Ledger(run / "generate" / "shards" / "00001-of-00002" / "engine" / "batches")
    ledger.collected("00001", {"answered": 12})
    ledger.close()
    refuse_layout_change_with_batches_out(RunDir(config), "generate", 1)  # collected: nothing out


def test_a_sharded_run_reads_a_cache_dir_shared_between_runs(tmp_path):
    """``cache_dir`` (answers shared by several run directories) is read by a sharded run too."""
    shared = tmp_path / "shared" / "cache"
    with math_run(tmp_path) as (gen, _, first):
        data = first.model_dump(mode="json")
        data.update(run_dir=str(tmp_path / "a" / "run"), cache_dir=str(shared))
        run_pipeline(config_from_dict(data), until="generate", echo=quiet)
        data.update(run_dir=str(tmp_path / "b" / "run"), executor={"name": "local", "shards": 2})
        run_pipeline(config_from_dict(data), until="generate", echo=quiet)
        assert gen.stats()["requests"] == N


def test_cache_check_and_rebuild_of_a_run_directory_cover_every_shard_partition(tmp_path):
    run = tmp_path / "run"
    with math_run(tmp_path) as (_, _, base):
        run_pipeline(with_executor(base, {"name": "local", "shards": 2}), until="verify", echo=quiet)
    partitions = sorted(run.glob("*/shards/*/cache"))
    assert len(partitions) == 4  # generate and verify (its judge), two ranks each
    runner = CliRunner()
    clean = runner.invoke(app, ["cache", "check", str(run)])
    assert clean.exit_code == 0, clean.output
    assert all(f"cache {p}:" in clean.output for p in partitions)
    # a flipped byte in rank 1's generate partition is found from the run directory
    flip_an_answer_byte(run / "generate" / "shards" / "00001-of-00002" / "cache")
    bad = runner.invoke(app, ["cache", "check", str(run)])
    assert bad.exit_code == 1 and "1 bad" in bad.output
    for partition in partitions:  # every index lost: rebuilt from the segments, one partition each
        (partition / "index.sqlite").unlink()
    rebuilt = runner.invoke(app, ["cache", "rebuild", str(run)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.output.count("entries in") == 4
