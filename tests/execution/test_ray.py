"""The Ray backend gives the same verdicts as the local one on the same batch (local Ray, 2 CPUs)."""

from __future__ import annotations

import pytest
from thoughtmill.execution import Limits, run_batch

from .conftest import load_cases
from .test_labelled import _items

ray = pytest.importorskip("ray")

QUICK = [
    c
    for c in load_cases("labelled.yaml")
    if "gen" not in c and "limits" not in c and c.get("mode", "strict") == "strict"
][:40]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_matches_local(local_ray):
    items = _items(QUICK)
    batch = [(name, code, tests) for name, (code, tests, _lim, _mode) in items.items()]
    limits = Limits(time_s=4.0, total_time_s=60.0)
    local = {k: v.status for k, v in run_batch(batch, limits, workers=2)}
    remote = {k: v.status for k, v in run_batch(iter(batch), limits, backend="ray", workers=2, chunk_size=4)}
    assert remote == local
    expected = {c["name"]: c["expect"] for c in QUICK}
    assert {k: v.value for k, v in remote.items()} == expected


@pytest.mark.slow
def test_ray_reports_the_actor_layer(local_ray):
    from thoughtmill.execution.ray_backend import JudgeActor

    actor = ray.remote(num_cpus=1)(JudgeActor).remote()
    report = ray.get(actor.layer.remote())
    assert report["layer"] in ("bubblewrap", "unshare", "rlimits")
    ray.kill(actor)


@pytest.mark.slow
def test_ray_actor_killed_mid_chunk_is_judged_again(local_ray):
    import signal

    from .conftest import Saboteur
    from .test_hostile_verdicts import ECHO_TESTS, SLOW_ECHO

    saboteur = Saboteur(signal.SIGKILL, times=1, marker=b"ray::JudgeActor", parent=None)
    saboteur.start()
    try:
        items = [(i, SLOW_ECHO, ECHO_TESTS) for i in range(4)]
        got = dict(run_batch(items, Limits(time_s=5.0), backend="ray", workers=2, chunk_size=2))
    finally:
        saboteur.stop.set()
        saboteur.join()
    assert len(saboteur.hit) == 1, "the test never caught an actor judging"
    assert set(got) == set(range(4))
    assert all(v.accepted for v in got.values()), got
