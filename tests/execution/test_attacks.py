"""The attack suite: hostile programs must get a failing (or contained) verdict and leave nothing behind.

For every program in attacks.yaml, run in one concurrent batch with a benign solution right after it
on the same judge worker: the verdict is one of the allowed ones; afterwards no process it started
survives (each marks its processes by writing a per-run token to /proc/self/comm), no file appeared
outside its private temp dir, the host's environment (a canary variable) was never seen, and the
worker judged the next solution correctly.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from thoughtmill.execution import Limits, Status, run_batch, run_tests

from .conftest import load_cases

ATTACKS = load_cases("attacks.yaml")
REPO = Path(__file__).resolve().parents[2]
LIMITS = Limits(
    time_s=1.5, total_time_s=20, memory_mb=256, output_bytes=1 << 20, max_processes=32, tmpfs_mb=16
)
STDIN_TESTS = {"inputs": ["1\n"], "outputs": ["ok\n"]}
CALL_TESTS = {"fn_name": "solve", "inputs": [[1]], "outputs": [["ok\n"]]}
BENIGN = ("print(input().strip() and 'ok')\n", STDIN_TESTS)


def _token_processes(token: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == token:
                    found.append(int(pid))
            except OSError:
                pass
    return found


class _Listener:
    """A TCP listener on the host's loopback that records any connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def attack_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    token = "tma" + secrets.token_hex(4)
    canary = "canary-" + secrets.token_hex(8)
    hostdir = tmp_path_factory.mktemp("attack-host")
    (hostdir / "secret.txt").write_text("host secret")
    listener = _Listener()
    os.environ["THOUGHTMILL_TEST_CANARY"] = canary
    tmp_before = set(os.listdir("/tmp"))
    items = []
    for case in ATTACKS:
        code = (
            case["code"]
            .replace("@TOKEN@", token)
            .replace("@CANARY@", canary)
            .replace("@PORT@", str(listener.port))
            .replace("@HOSTDIR@", str(hostdir))
            .replace("@REPO@", str(REPO))
        )
        items.append((case["name"], code, CALL_TESTS if case.get("call") else STDIN_TESTS))
        items.append(("benign-after-" + case["name"], *BENIGN))
    try:
        # chunk_size=2: each attack and its benign follower go to the same judge worker, in order
        verdicts = dict(run_batch(items, LIMITS, workers=4, chunk_size=2))
    finally:
        listener.close()
        del os.environ["THOUGHTMILL_TEST_CANARY"]
    return {
        "verdicts": verdicts,
        "token": token,
        "canary": canary,
        "hostdir": hostdir,
        "listener": listener,
        "tmp_new": set(os.listdir("/tmp")) - tmp_before,
    }


def test_suite_is_big_enough():
    assert len(ATTACKS) >= 25


def expected_verdicts(case: dict[str, Any], layer: str) -> list[str]:
    """The verdicts allowed for a case in this sandbox layer (`expect_by_layer` names a documented
    weakness of a weaker layer, e.g. the unshare layer leaves the host's /etc readable)."""
    return case.get("expect_by_layer", {}).get(layer, case["expect"])


@pytest.mark.parametrize("case", ATTACKS, ids=[c["name"] for c in ATTACKS])
def test_attack_verdict(case: dict[str, Any], attack_run: dict[str, Any], sandbox_layer: str):
    v = attack_run["verdicts"][case["name"]]
    expect = expected_verdicts(case, sandbox_layer)
    assert v.status.value in expect, f"{case['name']}: {v}"
    if "accepted" not in expect:
        assert not v.accepted
    assert v.status is not Status.SANDBOX_ERROR


@pytest.mark.parametrize("case", ATTACKS, ids=[c["name"] for c in ATTACKS])
def test_pool_serves_next_solution(case: dict[str, Any], attack_run: dict[str, Any]):
    v = attack_run["verdicts"]["benign-after-" + case["name"]]
    assert v.accepted, v


def test_no_surviving_process(attack_run: dict[str, Any]):
    assert _token_processes(attack_run["token"]) == []


def test_no_file_outside_temp_dir(attack_run: dict[str, Any]):
    token, hostdir = attack_run["token"], attack_run["hostdir"]
    assert sorted(p.name for p in hostdir.iterdir()) == ["secret.txt"]
    leaks = [
        p
        for p in (
            REPO / f".pwned-{token}",
            Path(f"/tmp/pwned-{token}"),
            Path(f"/root/pwned-{token}"),
            Path(f"/var/tmp/pwned-{token}"),
            Path(f"/dev/shm/pwned-{token}"),
            Path(f"/pwned-{token}"),
            Path(f"/tmp/fill-{token}"),
            Path(f"/usr/pwned-{token}"),
            Path(f"/etc/pwned-{token}"),
        )
        if os.path.exists(p)  # False where this user may not look (nor could the program, same uid)
    ]
    assert leaks == []
    assert not any(name.startswith(("many-", "fill-", "pwned")) for name in attack_run["tmp_new"])


def test_host_environment_unseen(attack_run: dict[str, Any]):
    canary = attack_run["canary"]
    for name, v in attack_run["verdicts"].items():
        assert canary not in v.stderr and canary not in v.detail, name
    assert attack_run["verdicts"]["read_environment"].accepted


def test_no_network(attack_run: dict[str, Any]):
    assert attack_run["listener"].connections == 0
    assert attack_run["verdicts"]["open_socket"].accepted


def test_in_process_judge_leaves_no_zombies():
    """run_tests in this very process: hostile programs leave no child or zombie of ours behind."""
    import psutil

    token = "tmz" + secrets.token_hex(4)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    for case in ATTACKS:
        if case["name"] in ("setsid_daemon", "kill_everything", "orphaned_cpu_burners", "fork_bomb"):
            code = case["code"].replace("@TOKEN@", token).replace("@HOSTDIR@", "/nonexistent")
            v = run_tests(code, STDIN_TESTS, LIMITS)
            assert v.status.value in case["expect"], v
    after = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert after == set()
    assert _token_processes(token) == []
