"""The sandbox as an unprivileged user, with and without bubblewrap (hostile programs, the report, memory).

Each test runs a driver process as uid 65534 (when the suite runs as root, as CI does) or as the
current user, on a PATH that lacks ``bwrap`` for the ``no-bwrap`` variant: the sandbox must then
fall back to user namespaces in which the solution holds no capability and is not uid 0.
"""

from __future__ import annotations

import os
import shutil

import pytest

from .unprivileged import (
    NESTED,
    REPO,
    can_drop_privileges,
    run_driver,
    run_unprivileged,
    shared_tempdir,
    unprivileged_python,
)

pytestmark = pytest.mark.skipif(not can_drop_privileges(), reason="needs setpriv to drop root")

VARIANTS = ["no-bwrap", "bwrap"]
ECHO = {"inputs": ["1\n"], "outputs": ["ok\n"]}

#: a solution that tries to undo the sandbox's mounts and write on the host
ESCAPE_MOUNTS = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
bad = []
if os.getuid() == 0:
    bad.append("uid 0")
if int(caps, 16):
    bad.append("capabilities " + caps)
if libc.umount2(b"/tmp", 2) == 0:
    bad.append("unmounted /tmp")
if libc.mount(None, b"/", None, 32 | 4096, None) == 0:
    bad.append("remounted / read-write")
for target in (HOSTDIR + "/pwned", "/pwned-" + TOKEN, "/tmp/pwned-" + TOKEN):
    try:
        with open(target, "w") as f:
            f.write("x")
        if not target.startswith("/tmp/"):
            bad.append("wrote " + target)
    except OSError:
        pass
print("ok" if not bad else bad)
"""

#: forks children that each hold real memory; prints how many forks succeeded
FORKING_MEMORY_BOMB = r"""
import os, time
n = 0
for _ in range(24):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        hog = bytearray(32 << 20)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(30)
        os._exit(0)
    n += 1
print(n)
"""

DRIVER = r"""
import json, os, secrets, shutil, tempfile
from thoughtmill import execution
hostdir = tempfile.mkdtemp(prefix="tm-host-")
token = secrets.token_hex(4)
report = execution.sandbox_report()
prelude = "HOSTDIR = %r\nTOKEN = %r\n" % (hostdir, token)
echo = {"inputs": ["1\n"], "outputs": ["ok\n"]}
escape = execution.run_tests(prelude + ESCAPE, echo)
seen_uid = execution.run_tests("import os\nprint(os.getuid())", {"inputs": [""], "outputs": ["?"]})
limits = execution.Limits(max_processes=8, memory_mb=128, time_s=10)
bomb = execution.run_tests(BOMB, {"inputs": [""], "outputs": ["?"]}, limits)
out = {
    "report": report,
    "escape": escape.to_dict(),
    "seen_uid": seen_uid.detail,
    "bomb": bomb.detail,
    "hostdir": sorted(os.listdir(hostdir)),
    "host_root_file": os.path.exists("/pwned-" + token),
}
shutil.rmtree(hostdir)
print(json.dumps(out))
"""


@pytest.fixture(scope="module", params=VARIANTS)
def unprivileged_run(request: pytest.FixtureRequest) -> dict:
    if request.param == "bwrap" and not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    where = shared_tempdir("tm-unpriv-")
    try:
        code = f"ESCAPE = {ESCAPE_MOUNTS!r}\nBOMB = {FORKING_MEMORY_BOMB!r}\n" + DRIVER
        out = run_driver(code, where, bwrap=request.param == "bwrap")
    finally:
        shutil.rmtree(where, ignore_errors=True)
    out["variant"] = request.param
    return out


def _got(detail: str) -> str:
    """The program's output from a wrong_answer detail such as "test 0: ... got '65534'"."""
    return detail.rsplit("got ", 1)[-1].strip("'\" ")


def test_layer_is_real_isolation(unprivileged_run: dict):
    r = unprivileged_run["report"]
    expected = "bubblewrap" if unprivileged_run["variant"] == "bwrap" else "unshare"
    assert r["layer"] == expected, r
    assert r["real_isolation"] is True, r


def test_solution_cannot_undo_the_mounts(unprivileged_run: dict):
    v = unprivileged_run["escape"]
    assert v["status"] == "accepted", v
    assert unprivileged_run["hostdir"] == []
    assert unprivileged_run["host_root_file"] is False


def test_report_tells_the_uid_the_code_runs_as(unprivileged_run: dict):
    r = unprivileged_run["report"]
    seen = _got(unprivileged_run["seen_uid"])
    assert seen == str(r["uid_in_sandbox"]), (seen, r)
    assert seen != "0"
    assert r["capabilities_in_sandbox"] == "none", r


def test_forking_memory_bomb_is_bounded(unprivileged_run: dict):
    """max_processes x memory_mb bounds the sandbox: the bomb cannot start more than max_processes."""
    r = unprivileged_run["report"]
    assert r["memory"]["total_bound"] is True, r["memory"]
    forks = int(_got(unprivileged_run["bomb"]))
    assert forks < 8, unprivileged_run["bomb"]


def test_weak_layer_is_refused_without_opt_in():
    where = shared_tempdir("tm-unpriv-")
    code = r"""
import json
from thoughtmill import execution
out = {"report": execution.sandbox_report()}
for name, call in [
    ("run_tests", lambda **kw: execution.run_tests("print(1)", {"inputs": [""], "outputs": ["1"]}, **kw)),
    ("run_batch", lambda **kw: list(execution.run_batch([(0, "print(1)", {"inputs": [""], "outputs": ["1"]})], workers=1, **kw))),
]:
    try:
        call()
        out[name] = "ran"
    except execution.SandboxUnavailable as exc:
        out[name] = "refused: " + str(exc)
    res = call(unsafe_weak_isolation=True)
    v = res if name == "run_tests" else res[0][1]
    out[name + "_opted_in"] = v.status.value
print(json.dumps(out))
"""
    try:
        out = run_driver(code, where, bwrap=False, env={"THOUGHTMILL_SANDBOX": "rlimits"})
    finally:
        shutil.rmtree(where, ignore_errors=True)
    r = out["report"]
    assert r["layer"] == "rlimits" and r["real_isolation"] is False
    assert "NOT isolated" in r["network"] and "NOT isolated" in r["environment"], r
    assert r["memory"]["total_bound"] is False, r["memory"]
    for name in ("run_tests", "run_batch"):
        msg = out[name]
        assert msg.startswith("refused"), msg
        assert "bubblewrap" in msg and "user namespaces" in msg and "unsafe_weak_isolation" in msg, msg
        assert out[name + "_opted_in"] == "accepted"


#: the hostile suite, re-run as an unprivileged user (it is also run as whoever runs this suite)
HOSTILE_FILES = [
    "tests/execution/test_attacks.py",
    "tests/execution/test_sandbox_seccomp.py",
    "tests/execution/test_sandbox.py",
]


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_hostile_suite_unprivileged(variant: str):
    """CI runs as root: this runs the whole hostile suite again as uid 65534, with and without bwrap."""
    if os.environ.get(NESTED):
        pytest.skip("already the unprivileged run")
    if variant == "bwrap" and not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    where = shared_tempdir("tm-unpriv-suite-")
    try:
        python = unprivileged_python()[0]
        argv = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO)]
        argv += ["--basetemp", str(where / "pytest"), *(str(REPO / f) for f in HOSTILE_FILES)]
        res = run_unprivileged(argv, where, bwrap=variant == "bwrap", timeout=900)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    tail = res.stdout[-6000:] + res.stderr[-2000:]
    assert res.returncode == 0, tail
    assert " passed" in tail and " failed" not in tail and " error" not in tail, tail
