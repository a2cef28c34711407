"""Isolation layers: detection, the report, forced fallbacks (each in a fresh process), and the pool."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from thoughtmill.execution import Limits, SandboxUnavailable, Status, run_batch, run_tests, sandbox_report
from thoughtmill.execution import sandbox as sb

from .conftest import load_cases
from .test_attacks import _token_processes

REPO = Path(__file__).resolve().parents[2]
ECHO = {"inputs": ["1\n"], "outputs": ["ok\n"]}


def test_report_names_the_layer():
    r = sandbox_report()
    assert r["layer"] in sb.LAYERS
    assert r["python"] and tuple(map(int, r["python_version"].split(".")[:2])) >= (3, 8)
    if shutil.which("bwrap") and r["layer"] == sb.BUBBLEWRAP:
        assert r["network"] == "none" and r["uid_in_sandbox"] == sb.NOBODY


def test_inside_view():
    """uid nobody, empty environment (also /proc/self/environ and /proc/1/environ), cwd a private tmp."""
    code = (
        "import os\n"
        "try:\n    env1 = open('/proc/1/environ', 'rb').read()\nexcept OSError:\n    env1 = b''  # the runner is not dumpable\n"
        "ok = os.getuid() == 65534 and not os.environ and open('/proc/self/environ', 'rb').read() == b''\n"
        "ok = ok and (env1 == b'' or os.getpid() != 1)\n"
        "open('probe', 'w').write('x')\n"
        "print('ok' if ok else (os.getuid(), dict(os.environ), env1))\n"
    )
    if os.geteuid() != 0 and not sandbox_report()["real_isolation"]:
        pytest.skip("uid 65534 only when root or in a user namespace (bubblewrap, unshare)")
    v = run_tests(code, ECHO)
    assert v.accepted, v


def test_required_layer_is_enforced():
    env = {**os.environ, "THOUGHTMILL_SANDBOX": "rlimits", "THOUGHTMILL_SANDBOX_REQUIRE": "bubblewrap"}
    code = "import execution\ntry:\n    execution.sandbox_report()\nexcept execution.SandboxUnavailable as e:\n    print('refused', e)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert out.stdout.startswith("refused"), out.stdout + out.stderr


def test_unknown_layer_name_is_an_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("THOUGHTMILL_SANDBOX", "docker")
    with pytest.raises(SandboxUnavailable, match="expected one of"):
        sb.detect(refresh=True)
    monkeypatch.delenv("THOUGHTMILL_SANDBOX")
    sb.detect(refresh=True)


FALLBACK_ATTACKS = {
    sb.UNSHARE: [
        "infinite_loop",
        "fork_bomb",
        "memory_bomb",
        "setsid_daemon",
        "orphaned_cpu_burners",
        "read_environment",
        "open_socket",
        "write_outside_tmp",
        "kill_everything",
        "stdout_flood",
    ],
    sb.RLIMITS: [
        "infinite_loop",
        "fork_bomb",
        "memory_bomb",
        "setsid_daemon",
        "orphaned_cpu_burners",
        "read_environment",
        "stdout_flood",
        "raise_own_rlimits",
    ],
}

_DRIVER = """
import json, sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from thoughtmill import execution
    report = execution.sandbox_report()
items = json.loads(sys.stdin.read())
lim = execution.Limits(time_s=1.5, total_time_s=20, memory_mb=256, output_bytes=1 << 20, max_processes=32, tmpfs_mb=16)
out = {name: v.to_dict() for name, v in execution.run_batch([tuple(i) for i in items], lim, workers=2, unsafe_weak_isolation=True)}
print(json.dumps({"layer": report["layer"], "warned": [str(w.message) for w in caught], "verdicts": out}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("layer", [sb.UNSHARE, sb.RLIMITS])
def test_forced_fallback_layer(layer: str, tmp_path: Path):
    if layer == sb.UNSHARE and not shutil.which("unshare"):
        pytest.skip("no unshare")
    if os.geteuid() != 0 and layer == sb.RLIMITS:
        pytest.skip("without root the rlimits layer has no cgroup to kill escaped processes (documented)")
    cases = {c["name"]: c for c in load_cases("attacks.yaml")}
    token = "tmf" + secrets.token_hex(4)
    items = []
    for name in FALLBACK_ATTACKS[layer]:
        code = cases[name]["code"].replace("@TOKEN@", token).replace("@CANARY@", "canary-x")
        code = code.replace("@PORT@", "9").replace("@HOSTDIR@", str(tmp_path)).replace("@REPO@", str(REPO))
        items.append((name, code, ECHO))
    items.append(("benign", "print(input() and 'ok')", ECHO))
    env = {**os.environ, "THOUGHTMILL_SANDBOX": layer}
    res = subprocess.run(
        [sys.executable, "-c", _DRIVER],
        input=json.dumps(items),
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["layer"] == layer
    assert any("falling back" in w for w in out["warned"]), "fallback must warn loudly"
    for name in FALLBACK_ATTACKS[layer]:
        status = out["verdicts"][name]["status"]
        assert status in cases[name]["expect"], (name, json.dumps(out["verdicts"][name]))
    assert out["verdicts"]["benign"]["status"] == "accepted"
    assert _token_processes(token) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_run_batch_is_lazy_and_survives_bad_items():
    consumed = []

    def items():
        for i in range(40):
            consumed.append(i)
            tests = ECHO if i != 3 else {"inputs": ["1"]}  # item 3 is malformed
            yield i, "print(input() and 'ok')", tests

    it = run_batch(items(), Limits(time_s=5), workers=2)
    first = next(it)
    assert len(consumed) <= 8, "items must be consumed lazily (bounded in-flight window)"
    rest = dict([first, *it])
    assert set(rest) == set(range(40))
    assert rest[3].status is Status.SANDBOX_ERROR and "bad test cases" in rest[3].detail
    assert all(v.accepted for k, v in rest.items() if k != 3)


def test_run_batch_ids_are_kept_and_order_is_free():
    ids = [("a", 1), "b", 3.5, None]
    items = [(i, "print(input() and 'ok')", ECHO) for i in ids]
    got = dict(run_batch(items, workers=2))
    assert set(got) == set(ids)
    assert all(v.accepted for v in got.values())


def test_no_temp_dirs_or_cgroups_left_behind():
    before = {p for p in os.listdir("/tmp") if p.startswith("tm-run-")}
    run_tests("print(input() and 'ok')", ECHO)
    after = {p for p in os.listdir("/tmp") if p.startswith("tm-run-")}
    assert after <= before
    for slot in sb.cgroups().all:
        assert slot.pids() == []


def test_isolation_warning_class_is_public():
    from thoughtmill import execution

    assert issubclass(execution.IsolationWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sandbox_report()  # cached: no warning on the strong layer, and never twice


def test_judge_clock_holds_when_the_runner_does_not(monkeypatch: pytest.MonkeyPatch):
    """The per-test limit is also kept from outside: a runner that never stops its test is killed."""
    from thoughtmill.execution import judge

    orig = judge._Session.__init__

    def lax_runner(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        self.job["time_s"] = 1000.0  # the runner's own clock would wait ~forever

    monkeypatch.setattr(judge._Session, "__init__", lax_runner)
    v = run_tests("while True:\n    pass\n", ECHO, Limits(time_s=1.0))
    assert v.status is Status.TIME_LIMIT and "judge's clock" in v.detail, v
    assert v.wall_time_s < 4.0


def test_run_tests_is_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    codes = ["print(input() and 'ok')", "print('no')", "import time\ntime.sleep(0.2)\nprint('ok')"] * 4
    with ThreadPoolExecutor(6) as pool:
        verdicts = list(pool.map(lambda c: run_tests(c, ECHO, Limits(time_s=3)), codes))
    assert [v.status.value for v in verdicts] == ["accepted", "wrong_answer", "accepted"] * 4
