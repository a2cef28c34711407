"""The seccomp filter: every denied system call fails inside the sandbox, ordinary programs still run.

A solution calls each denied syscall through ctypes ``syscall()`` with harmless (zero) arguments and
checks the errno itself. Some of them would succeed without the filter (``unshare(0)``, ``keyctl``
on its own keyring, ``clone`` into a new user namespace): the same calls are made outside the sandbox
to show that it is the filter, not missing privileges, that stops them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from thoughtmill.execution import Limits, run_tests, sandbox_report
from thoughtmill.execution import seccomp_policy as policy

pyseccomp = pytest.importorskip("pyseccomp", reason="the seccomp filter needs pyseccomp (a dependency)")

REPO = Path(__file__).resolve().parents[2]
ECHO = {"inputs": ["1\n"], "outputs": ["ok\n"]}

#: calls that succeed for any user without the filter (the control run checks that here)
CANARIES = {
    "unshare": [0],  # unshare(0): a no-op
    "keyctl": [0, -4, 1],  # KEYCTL_GET_KEYRING_ID of the user keyring
}

CALLER = r"""
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def call(nr, args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in (list(args) + [0] * 6)[:6]])
    if r == 0 and nr == CLONE:
        os._exit(0)  # a child that the filter should have prevented: leave quietly
    if r > 0 and nr == CLONE:
        os.waitpid(r, 0)
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

got = {name: call(nr, args) for name, (nr, args) in CALLS.items()}
"""


def _nr(name: str) -> int:
    return pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)


def _calls() -> dict[str, tuple[int, list[int]]]:
    calls = {name: (_nr(name), [0]) for name in policy.DENIED_SYSCALLS if _nr(name) >= 0}
    for flag, bit in policy.NAMESPACE_CLONE_FLAGS.items():
        calls[f"clone({flag})"] = (_nr("clone"), [bit | 17])  # | SIGCHLD
    calls["clone3"] = (_nr("clone3"), [0, 0])
    for name, args in CANARIES.items():
        calls[f"{name}{tuple(args)}"] = (_nr(name), args)
    return calls


def _program(calls: dict, expected: dict[str, str]) -> str:
    head = f"CALLS = {calls!r}\nCLONE = {_nr('clone')}\nEXPECTED = {expected!r}\n"
    tail = (
        "status = {l.split(':')[0]: l.split(':')[1].strip() for l in open('/proc/self/status') if ':' in l}\n"
        "bad = {k: v for k, v in got.items() if v != EXPECTED[k]}\n"
        "print('ok' if not bad and status.get('Seccomp') == '2' else (status.get('Seccomp'), bad))\n"
    )
    return head + CALLER + tail


@pytest.fixture(scope="module")
def report() -> dict:
    r = sandbox_report()
    if not r["seccomp"]["applied"]:
        pytest.fail(f"no seccomp filter in this sandbox: {r['seccomp']['note']}")
    return r


def test_every_denied_syscall_fails(report: dict):
    calls = _calls()
    expected = {name: "ENOSYS" if name == "clone3" else "EPERM" for name in calls}
    v = run_tests(_program(calls, expected), ECHO, Limits(time_s=10))
    assert v.accepted, v.detail


def test_canaries_succeed_without_the_filter():
    """Outside the sandbox the canary calls work: inside, the filter is what stops them."""
    wanted = {f"{name}{tuple(args)}" for name, args in CANARIES.items()} | {"clone(CLONE_NEWUSER)"}
    calls = {k: v for k, v in _calls().items() if k in wanted}
    code = f"CALLS = {calls!r}\nCLONE = {_nr('clone')}\n" + CALLER + "print(json.dumps(got))\n"
    out = subprocess.run(
        ["/usr/bin/python3", "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60, env={}
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == dict.fromkeys(wanted, "ok")


def test_report_lists_the_policy(report: dict):
    assert report["seccomp"]["denied"] == list(policy.DENIED_SYSCALLS)
    assert report["inside"]["no_new_privs"] == "1"


NORMAL = r"""
import threading, queue, os, json, math, collections
q = queue.Queue()
def work(i):
    q.put(sum(math.isqrt(k) for k in range(20000 + i)))
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, b"child")
    os._exit(0)
os.waitpid(pid, 0)
ok = q.qsize() == 8 and os.read(r, 5) == b"child" and input() == "1"
print("ok" if ok else "broken")
"""


def test_normal_programs_still_run(report: dict):
    """Threads (clone3 -> ENOSYS -> clone without namespace flags), fork, pipes: all still work."""
    v = run_tests(NORMAL, ECHO, Limits(time_s=10))
    assert v.accepted, v


_NO_FILTER_DRIVER = """
import json, warnings
warnings.simplefilter("ignore")
from thoughtmill.execution import run_tests, sandbox_report
r = sandbox_report()
v = run_tests("print(open('/proc/self/status').read().count('Seccomp:\\t2'))", {"inputs": [""], "outputs": ["0"]})
print(json.dumps({"seccomp": r["seccomp"], "warnings": r["warnings"], "status": v.status.value}))
"""


@pytest.mark.parametrize("how", ["switched_off", "library_missing"])
def test_without_the_filter_the_report_says_so(how: str, tmp_path: Path):
    """Where the filter cannot be built, solutions still run and the report and a warning say why."""
    env = {**os.environ, "THOUGHTMILL_SECCOMP": "0"}
    if how == "library_missing":
        (tmp_path / "pyseccomp.py").write_text(
            "raise OSError('libseccomp.so.2: cannot open shared object file')\n"
        )
        env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-c", _NO_FILTER_DRIVER],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["seccomp"]["applied"] is False
    assert got["status"] == "accepted", got
    note = got["seccomp"]["note"]
    assert ("THOUGHTMILL_SECCOMP=0" in note) if how == "switched_off" else ("pip install pyseccomp" in note)
    assert any("no seccomp filter" in w for w in got["warnings"]), got["warnings"]
    assert "no seccomp filter" in out.stderr


FOREIGN_ABI = r"""
import ctypes, mmap
buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(bytes([0xB8, 26, 0, 0, 0, 0xCD, 0x80, 0xC3]))  # mov eax, 26 (i386 ptrace); int 0x80; ret
f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))
print("survived", f())
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="i386 system calls from x86-64 code")
def test_foreign_abi_syscall_kills(report: dict):
    """The deny list is per syscall table: a 32-bit `int 0x80` call must not get around it."""
    v = run_tests(FOREIGN_ABI, {"inputs": [""], "outputs": ["x"]})
    assert v.status.value == "runtime_error" and "SIGSYS" in v.detail, v
