"""The judge: runs one solution's tests in a sandboxed runner and turns what comes back into a Verdict.

Trusted side. It starts the sandbox (see sandbox.py), sends the job (code + test inputs, never the
expected outputs) on the runner's stdin, and reads framed results from the runner's stdout while
keeping its own clocks: a start-up deadline, a per-test deadline (the runner's own limit plus grace)
and the solution's total deadline. Comparison happens here (compare.py), on bytes received from the
runner; call-based results are JSON parsed here, never compared with the program's own ``__eq__``.
Whatever happens, the sandbox is killed and reaped before the verdict is returned.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import select
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from thoughtmill.execution import compare, jsonutil
from thoughtmill.execution import sandbox as sb
from thoughtmill.execution.testcases import CALL, TestSpec, parse_test_cases
from thoughtmill.execution.types import Limits, Status, Verdict

MAGIC = b"\xfeTM"
STARTUP_S = 15.0
STDERR_EXCERPT = 2000
#: the fewest digits a returned integer may have before it is rejected unparsed (any float's integer
#: part fits; longer only when the expected value holds a longer integer)
MIN_RESULT_INT_DIGITS = 400

_SIGNAMES = {s.value: s.name for s in signal.Signals}

_RUNNER_STATUS = {
    "T": Status.TIME_LIMIT,
    "O": Status.OUTPUT_LIMIT,
    "M": Status.MEMORY_LIMIT,
    "S": Status.RUNTIME_ERROR,
    "E": Status.RUNTIME_ERROR,
    "N": Status.RUNTIME_ERROR,
    "I": Status.SANDBOX_ERROR,
}


@dataclass
class _TestResult:
    status: Status
    detail: str = ""
    stderr: str = ""


class _ProtocolError(Exception):
    pass


def _excerpt(data: bytes, limit: int = STDERR_EXCERPT) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[: limit // 4] + "\n[...]\n" + text[-(limit * 3 // 4) :]


def _preludes(kind: str, mode: str) -> list[str]:
    if mode == compare.LENIENT:
        return ["apps", "leetcode"] if kind == CALL else ["apps"]
    return ["leetcode"] if kind == CALL else []


class _Session:
    """One sandboxed runner process working through tests[start:]."""

    def __init__(self, cfg: sb.Config, code: str, spec: TestSpec, start: int, limits: Limits, mode: str):
        self.cfg, self.spec, self.start, self.limits, self.mode = cfg, spec, start, limits, mode
        mem = limits.memory_mb << 20
        tmpfs = limits.tmpfs_mb << 20
        self.job: dict[str, Any] = {
            "code": code,
            "kind": spec.kind,
            "fn_name": spec.fn_name,
            "tests": spec.inputs[start:],
            "index_base": start,
            "time_s": float(limits.time_s),
            "mem_bytes": mem,
            "runner_as": mem + (512 << 20),
            "out_bytes": limits.output_bytes,
            "fsize_bytes": limits.file_size_mb << 20,
            "nofile": limits.open_files,
            # NPROC counts per user: per sandbox only in a user namespace of its own (see sandbox.py).
            "nproc": limits.max_processes if cfg.nproc_per_sandbox else max(limits.max_processes, 4096),
            "fail_fast": limits.fail_fast,
            "prelude": _preludes(spec.kind, mode),
            "int_keys": mode == compare.LENIENT,
            "pidns": cfg.pidns,
            "cwd": "/tmp",
        }
        self.slot = sb.cgroups().acquire(mem + 2 * tmpfs + (256 << 20), limits.max_processes + 16)
        self.workdir = sb.make_workdir(cfg) if cfg.layer == sb.RLIMITS else None
        if self.workdir:
            self.job["cwd"] = self.workdir
        info_r = info_w = block_r = block_w = None
        if cfg.layer == sb.BUBBLEWRAP:
            info_r, info_w = os.pipe()
            block_r, block_w = os.pipe()
        argv = sb.build_argv(
            cfg, self.slot, self.workdir, tmpfs_bytes=tmpfs, info_fd=info_w, block_fd=block_r
        )
        self.pid1: int | None = None
        self.info = bytearray()
        self.info_r = info_r
        child_fds = tuple(fd for fd in (info_w, block_r) if fd is not None)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={},
                cwd=self.workdir or "/",
                pass_fds=child_fds,
                start_new_session=True,
                **sb.popen_kwargs(cfg),
            )
        except BaseException:
            for fd in (info_r, block_w):
                if fd is not None:
                    os.close(fd)
            self._release()
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
        if cfg.layer == sb.RLIMITS:
            self.pid1 = self.proc.pid  # sh -> setpriv -> python: exec all the way, same pid
        if block_w is not None:
            try:
                self._setup_pid1()
            finally:
                os.close(block_w)  # releases bwrap: it now execs the runner as PID 1

    def _setup_pid1(self) -> None:
        """bubblewrap is waiting on its block fd: learn PID 1's host pid and put it in the cgroups
        before it runs anything."""
        deadline = time.monotonic() + STARTUP_S
        while self.info_r is not None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.info_r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            data = os.read(self.info_r, 4096)
            if not data:
                os.close(self.info_r)
                self.info_r = None
                break
            self.info += data
        pid1 = self._find_pid1()
        if pid1 is None:
            return  # bwrap failed: the driver reports it from its stderr
        if self.slot is not None:
            try:
                self.slot.join(pid1)
            except OSError:
                sb.log.warning("cannot move the sandbox into its cgroup; continuing without")

    # ------------------------------------------------------------------ teardown

    def _find_pid1(self) -> int | None:
        if self.pid1 is None and self.cfg.layer == sb.BUBBLEWRAP and self.info:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.pid1 = int(json.loads(bytes(self.info).decode())["child-pid"])
        if self.pid1 is None and self.cfg.layer == sb.UNSHARE:
            kids = sb.children_of(self.proc.pid)
            self.pid1 = kids[0] if kids else None
        return self.pid1

    def close(self) -> None:
        """Kill everything the sandbox started, reap it, free the cgroup. Idempotent."""
        proc = self.proc
        pid1 = self._find_pid1()
        if self.cfg.layer == sb.RLIMITS:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        elif pid1 is not None:
            sb.kill(pid1)  # PID 1 of the namespace: the kernel kills all the rest
        else:
            sb.kill(proc.pid)
        # Let the launcher reap PID 1 before anything else is killed (else PID 1 is orphaned: a zombie).
        try:
            proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            sb.kill(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2.0)
        if self.slot is not None:
            self.slot.kill_all()  # stragglers outside the namespace (rlimits layer: escaped sessions)
        if pid1 is not None and pid1 != proc.pid:
            sb.reap(pid1)  # only if it was re-parented to us (subreaper)
        sb.reap_orphans()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                if f is not None:
                    f.close()
        if self.info_r is not None:
            with contextlib.suppress(OSError):
                os.close(self.info_r)
            self.info_r = None
        self._release()

    def _release(self) -> None:
        if self.slot is not None:
            sb.cgroups().release(self.slot)
            self.slot = None
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


class _Judgement:
    def __init__(self, code: str, spec: TestSpec, limits: Limits, mode: str):
        self.code, self.spec, self.limits, self.mode = code, spec, limits, mode
        self.n = len(spec)
        self.results: list[_TestResult | None] = [None] * self.n
        self.t0 = time.monotonic()
        self.deadline_total = self.t0 + limits.total_time_s
        self.compile_error: str | None = None
        self.sandbox_error: str | None = None
        self.infrastructure = False  # the sandbox failed for reasons of the host, not of the program
        self.stop = False

    # ------------------------------------------------------------------ evaluating one test frame

    def _evaluate(self, head: list[str], body: bytes, oom: bool) -> int:
        idx, st = int(head[0]), head[1]
        rc, sig, micros = int(head[2]), int(head[3]), int(head[4])
        n_out, n_err, n_res = int(head[5]), int(head[6]), int(head[7])
        if not (0 <= idx < self.n) or n_out + n_err + n_res != len(body) or self.results[idx] is not None:
            raise _ProtocolError(f"bad test frame {head[:2]}")
        out, err, res = body[:n_out], body[n_out : n_out + n_err], body[n_out + n_err :]
        stderr = _excerpt(err)
        if st == "K":
            self.results[idx] = self._compare(idx, out, res, stderr)
            return idx
        status = _RUNNER_STATUS.get(st)
        if status is None:
            raise _ProtocolError(f"unknown test status {st!r}")
        if st == "S" and sig == signal.SIGKILL and oom:
            status = Status.MEMORY_LIMIT
        if status is Status.TIME_LIMIT:
            detail = f"time limit ({self.limits.time_s:g} s) exceeded"
        elif status is Status.OUTPUT_LIMIT:
            detail = f"output over {self.limits.output_bytes} bytes"
        elif status is Status.MEMORY_LIMIT:
            detail = f"memory limit ({self.limits.memory_mb} MB) exceeded"
        elif st == "S":
            detail = f"killed by signal {sig} ({_SIGNAMES.get(sig, '?')})"
        elif st == "N":
            detail = "no return value (the function did not return normally)"
        elif st == "I":
            self.infrastructure = True
            detail = "runner could not start the test: " + stderr
        else:
            detail = f"exit code {rc}"
        self.results[idx] = _TestResult(status, f"test {idx}: {detail} after {micros / 1e6:.2f} s", stderr)
        return idx

    def _compare(self, idx: int, out: bytes, res: bytes, stderr: str) -> _TestResult:
        expected = self.spec.outputs[idx]
        if self.spec.kind == CALL:
            if res.startswith(b"\x00"):
                return _TestResult(
                    Status.WRONG_ANSWER, f"test {idx}: {res[1:].decode('utf-8', 'replace')}", stderr
                )
            # No integer longer than any the expected value could equal (floats: < 310 digits) is
            # ever converted: a hostile program cannot stall the judge with a million digits.
            limit = max(MIN_RESULT_INT_DIGITS, jsonutil.max_int_digits(expected) + 1)
            try:
                value = jsonutil.loads(res.decode("ascii"), max_int_digits=limit)
            except jsonutil.IntTooLong as exc:
                return _TestResult(Status.WRONG_ANSWER, f"test {idx}: return value holds {exc}", stderr)
            except (ValueError, RecursionError, UnicodeDecodeError):
                return _TestResult(Status.WRONG_ANSWER, f"test {idx}: return value is not valid JSON", stderr)
            if compare.compare_call(value, expected, self.mode, self.spec.unwrap):
                return _TestResult(Status.ACCEPTED)
            return _TestResult(
                Status.WRONG_ANSWER,
                f"test {idx}: expected {jsonutil.preview(expected)}, got {jsonutil.preview(value)}",
                stderr,
            )
        text = out.decode("utf-8", "surrogateescape")
        if compare.compare_stdout(text, expected, self.mode):
            return _TestResult(Status.ACCEPTED)
        return _TestResult(
            Status.WRONG_ANSWER, f"test {idx}: {compare.describe_stdout_mismatch(text, expected)}", stderr
        )

    # ------------------------------------------------------------------ driving one session

    def run_session(self, cfg: sb.Config, start: int) -> int | None:
        """Run tests[start:]; returns the index to restart from after a runner death, else None."""
        try:
            session = _Session(cfg, self.code, self.spec, start, self.limits, self.mode)
        except OSError as exc:
            self.sandbox_error = f"cannot start the sandbox: {exc}"
            self.infrastructure = True
            return None
        try:
            return self._drive(session, start)
        finally:
            session.close()

    def _drive(self, s: _Session, start: int) -> int | None:
        proc = s.proc
        payload = marshal.dumps(s.job, 4)
        pending = memoryview(len(payload).to_bytes(8, "little") + payload)
        sel = selectors.DefaultSelector()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            os.set_blocking(f.fileno(), False)
        sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, "in")
        sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "out")
        sel.register(proc.stderr.fileno(), selectors.EVENT_READ, "err")
        if s.info_r is not None:
            sel.register(s.info_r, selectors.EVENT_READ, "info")
        buf = bytearray()
        diag = bytearray()
        hello = compiled = done = False
        started = time.monotonic()
        test_start = 0.0
        current = start  # next test index expected
        grace = max(1.0, 0.5 * self.limits.time_s)
        max_body = 2 * self.limits.output_bytes + (1 << 20)
        try:
            while not done and not self.stop:
                now = time.monotonic()
                deadline = test_start + self.limits.time_s + grace if compiled else started + STARTUP_S
                deadline = min(deadline, self.deadline_total)
                if now >= deadline:
                    self._timeout(now, compiled, hello, current, diag)
                    return None
                events = sel.select(timeout=deadline - now)
                for key, _ in events:
                    what = key.data
                    if what == "in":
                        try:
                            n = os.write(key.fd, pending[: 1 << 20])
                            pending = pending[n:]
                        except BlockingIOError:
                            continue
                        except (BrokenPipeError, OSError):
                            pending = pending[:0]
                        if not pending:
                            sel.unregister(key.fd)
                            proc.stdin.close()
                        continue
                    try:
                        data = os.read(key.fd, 1 << 18)
                    except BlockingIOError:
                        continue
                    if what == "info":
                        if data:
                            s.info += data
                        else:
                            sel.unregister(key.fd)
                            os.close(key.fd)
                            s.info_r = None
                        continue
                    if what == "err":
                        if not data:
                            sel.unregister(key.fd)
                        elif len(diag) < 8192:
                            diag += data[: 8192 - len(diag)]
                        continue
                    if not data:  # the runner's stdout closed: it exited (or was killed)
                        sel.unregister(key.fd)
                        return self._runner_died(s, hello, compiled, current, diag)
                    buf += data
                    # parse complete frames
                    while len(buf) >= 8:
                        if buf[:3] != MAGIC:
                            raise _ProtocolError("corrupt frame header")
                        kind = bytes(buf[3:4])
                        size = int.from_bytes(buf[4:8], "little")
                        if size > max_body:
                            raise _ProtocolError("oversized frame")
                        if len(buf) < 8 + size:
                            break
                        body = bytes(buf[8 : 8 + size])
                        del buf[: 8 + size]
                        if kind == b"H":
                            hello = True
                            if body.split()[-1:] != [b"1"]:
                                _warn_unprotected()
                        elif kind == b"C":
                            compiled = True
                            test_start = time.monotonic()
                            if body != b"ok":
                                self.compile_error = body.partition(b"\n")[2].decode("utf-8", "replace")
                                return None
                        elif kind == b"T":
                            if not compiled:
                                raise _ProtocolError("test frame before compile frame")
                            nl = body.index(b"\n")
                            head = body[:nl].decode("ascii").split()
                            oom = s.slot.oom_happened() if s.slot is not None else False
                            idx = self._evaluate(head, body[nl + 1 :], oom)
                            if idx != current:
                                raise _ProtocolError(f"test {idx} reported while {current} was expected")
                            current = idx + 1
                            test_start = time.monotonic()
                            if self.results[idx].status is not Status.ACCEPTED and self.limits.fail_fast:
                                self.stop = True
                                break
                        elif kind == b"D":
                            done = True
                            break
                        elif kind == b"X":
                            self.sandbox_error = "runner failed: " + body.decode("utf-8", "replace")
                            return None
                        else:
                            raise _ProtocolError(f"unknown frame type {kind!r}")
        except (_ProtocolError, ValueError, IndexError, UnicodeDecodeError) as exc:
            self.sandbox_error = f"protocol error from the sandbox: {exc}"
            return None
        finally:
            sel.close()
        if done and current < self.n and not self.limits.fail_fast:
            self.sandbox_error = f"runner finished after {current} of {self.n} tests"
        return None

    def _timeout(self, now: float, compiled: bool, hello: bool, current: int, diag: bytes) -> None:
        total = now >= self.deadline_total
        if not compiled:
            if not hello:
                self.sandbox_error = "the sandbox did not start in time" + (
                    f": {_excerpt(bytes(diag), 300)}" if diag else ""
                )
                self.infrastructure = True
            elif total:
                self._mark(
                    current, Status.TIME_LIMIT, f"total time limit ({self.limits.total_time_s:g} s) exceeded"
                )
            else:
                self.compile_error = f"compilation did not finish within {STARTUP_S:g} s"
            return
        if current < self.n:
            what = (
                f"total time limit ({self.limits.total_time_s:g} s) exceeded"
                if total
                else f"time limit ({self.limits.time_s:g} s) exceeded (killed by the judge's clock)"
            )
            self._mark(current, Status.TIME_LIMIT, what)

    def _mark(self, idx: int, status: Status, detail: str, stderr: str = "") -> None:
        if idx < self.n and self.results[idx] is None:
            self.results[idx] = _TestResult(status, f"test {idx}: {detail}", stderr)

    def _runner_died(self, s: _Session, hello: bool, compiled: bool, current: int, diag: bytes) -> int | None:
        # Give the process a moment to finish exiting so its status and the cgroup's OOM count are known.
        with contextlib.suppress(subprocess.TimeoutExpired):
            s.proc.wait(timeout=0.5)
        oom = s.slot.oom_happened() if s.slot is not None else False
        if not hello:
            rc = s.proc.poll()
            self.sandbox_error = (
                f"the sandbox failed to start (exit {rc}): {_excerpt(bytes(diag), 500)}".strip()
            )
            self.infrastructure = True
            return None
        if not compiled:
            if oom:
                self.compile_error = "compilation exceeded the memory limit"
            else:
                self.compile_error = f"the runner died while compiling (exit {s.proc.poll()})"
            return None
        if current >= self.n:
            return None
        if oom:
            self._mark(current, Status.MEMORY_LIMIT, f"memory limit ({self.limits.memory_mb} MB) exceeded")
        else:
            self._mark(current, Status.RUNTIME_ERROR, "the program killed its sandbox runner")
        if self.limits.fail_fast or current + 1 >= self.n:
            return None
        return current + 1

    # ------------------------------------------------------------------ the verdict

    def verdict(self) -> Verdict:
        wall = time.monotonic() - self.t0
        if self.compile_error is not None:
            return Verdict(
                Status.COMPILE_ERROR,
                0,
                self.n,
                None,
                stderr=self.compile_error[:STDERR_EXCERPT],
                wall_time_s=wall,
                detail="compile error: " + self.compile_error.splitlines()[0][:200]
                if self.compile_error
                else "",
            )
        passed = sum(1 for r in self.results if r is not None and r.status is Status.ACCEPTED)
        first = next(
            (i for i, r in enumerate(self.results) if r is None or r.status is not Status.ACCEPTED), None
        )
        if self.sandbox_error is not None:
            failed = next(
                (i for i, r in enumerate(self.results) if r is not None and r.status is not Status.ACCEPTED),
                None,
            )
            if failed is None:
                return Verdict(
                    Status.SANDBOX_ERROR,
                    passed,
                    self.n,
                    first,
                    wall_time_s=wall,
                    detail=self.sandbox_error,
                    infrastructure_failure=self.infrastructure,
                )
        if first is None:
            assert passed == self.n
            return Verdict(Status.ACCEPTED, passed, self.n, None, wall_time_s=wall, detail="")
        r = self.results[first]
        if r is None:
            # never ran: only possible when the judge stopped early (total time, sandbox failure)
            detail = self.sandbox_error or f"test {first}: not run"
            status = Status.SANDBOX_ERROR if self.sandbox_error else Status.TIME_LIMIT
            infra = status is Status.SANDBOX_ERROR and self.infrastructure
            return Verdict(
                status, passed, self.n, first, wall_time_s=wall, detail=detail, infrastructure_failure=infra
            )
        return Verdict(
            r.status,
            passed,
            self.n,
            first,
            stderr=r.stderr,
            wall_time_s=wall,
            detail=r.detail,
            infrastructure_failure=r.status is Status.SANDBOX_ERROR and self.infrastructure,
        )


_WARNED: list[bool] = []


def _warn_unprotected() -> None:
    if not _WARNED:
        _WARNED.append(True)
        sb.log.warning(
            "the sandbox runner could not make itself non-dumpable (no _ctypes in the sandbox "
            "interpreter?): solutions could ptrace it; verdicts stay sound (expected outputs never "
            "enter the sandbox), but the defence in depth is reduced"
        )


def judge(code: str, spec: TestSpec, limits: Limits, mode: str, config: sb.Config | None = None) -> Verdict:
    """Judge one solution in a sandbox of ``config`` (default: the layer `sandbox.detect` picks here)."""
    if not isinstance(code, str):
        return Verdict(
            Status.COMPILE_ERROR, 0, len(spec), None, detail=f"code is {type(code).__name__}, not str"
        )
    cfg = config or sb.detect()
    j = _Judgement(code, spec, limits, mode)
    start: int | None = 0
    while start is not None and not j.stop and j.sandbox_error is None and j.compile_error is None:
        if time.monotonic() >= j.deadline_total:
            j._mark(start, Status.TIME_LIMIT, f"total time limit ({limits.total_time_s:g} s) exceeded")
            break
        start = j.run_session(cfg, start)
    return j.verdict()


def run_tests(
    code: str,
    test_cases: dict | list | str | TestSpec,
    limits: Limits | None = None,
    *,
    mode: str = compare.STRICT,
    unsafe_weak_isolation: bool = False,
) -> Verdict:
    """Run `code` against `test_cases` in the sandbox and judge it (see the package docs for formats).

    Raises TestCaseError for malformed test cases and ExecutionError for a bad mode or limits;
    everything the program does (or fails to do) is reported in the Verdict. Without real isolation
    here it raises `WeakIsolationRefused` unless ``unsafe_weak_isolation=True``.
    """
    compare.check_mode(mode)
    sb.require_isolation(unsafe_weak_isolation)
    spec = parse_test_cases(test_cases)
    return judge(code, spec, limits or Limits(), mode)
