# ruff: noqa: SIM105, UP031  (runs in the sandbox on any Python >= 3.8: no contextlib import, %-format)
"""The runner: executed INSIDE the sandbox as ``python -I -S -X utf8 -c <this file's source>``.

It never runs the solution itself. It reads one job (marshal, from its stdin, written by the trusted
judge), compiles the code, then for every test forks a child that drops every inherited descriptor
except the test's own stdin/stdout/stderr (and, for call-based tests, a result pipe), lowers its
rlimits and only then executes the solution. So the solution never holds the channel on which the
runner reports to the judge (the runner's stdout, kept on a private descriptor): it cannot forge a
frame, and the judge never sends it the expected outputs, so there is nothing to copy either.

When the sandbox gives the runner its own pid namespace the runner is PID 1 there: signals from the
solution cannot kill it, after each test it kills every other process in the namespace
(``kill(-1)``) and reaps them, and when it exits the kernel kills whatever is left.

Stdlib only, Python >= 3.8, and few imports (each costs start-up time on every solution).

Frames (runner -> judge): ``b"\\xfeTM" + type + 4-byte little-endian length + body`` with types
``H`` (hello), ``C`` (compiled: ``ok`` or ``err\\n<message>``), ``T`` (one test: an ASCII header line
``index status rc signal micros out_len err_len res_len err_total`` then the bytes), ``D`` (done) and
``X`` (runner failure: message).
"""

import marshal
import os
import resource
import select
import sys
import time

MAGIC = b"\xfeTM"
RC_MEMORY = 121
RC_INTERNAL = 122
SIGKILL = 9
SIGXCPU = 24

# test status letters (the judge maps them to verdict statuses)
ST_OK = "K"
ST_EXIT = "E"
ST_SIGNAL = "S"
ST_TIMEOUT = "T"
ST_OUTPUT = "O"
ST_MEMORY = "M"
ST_NORESULT = "N"
ST_INTERNAL = "I"

ERR_HEAD = 1024
ERR_TAIL = 3072

PRELUDES = {
    "none": "",
    # LeetCode-style class Solution code uses typing names and the usual containers without imports.
    "leetcode": (
        "from typing import *\nfrom collections import *\nfrom heapq import *\nfrom bisect import *\n"
        "from itertools import *\nfrom functools import *\nfrom math import *\nfrom builtins import *\n"
        "import collections, heapq, bisect, itertools, functools, math, string, re, sys, random, operator\n"
    ),
    # The import block APPS/TACO's checker prepends to every solution.
    "apps": (
        "import sys\nimport time\nimport itertools\n"
        "from itertools import accumulate, product, permutations, combinations\nimport collections\n"
        "from collections import Counter, OrderedDict, deque, defaultdict, ChainMap\n"
        "from functools import lru_cache\nimport math\n"
        "from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2\nimport fractions\n"
        "from typing import List, Tuple\nimport random\nimport heapq\nfrom heapq import *\n"
        "try:\n    import numpy as np\nexcept ImportError:\n    pass\n"
    ),
}

# stdlib modules the runner may import before forking when the solution imports them (copy-on-write
# for every test instead of one import per test). Importing stdlib code runs no solution code.
PRELOAD_OK = frozenset(
    "abc array bisect calendar cmath collections copy dataclasses datetime decimal enum fractions functools "
    "heapq io itertools json math numbers operator queue random re statistics string struct textwrap "
    "threading time types typing unicodedata".split()
)


def _frame(fd, kind, body):
    data = MAGIC + kind + len(body).to_bytes(4, "little") + body
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd, n):
    chunks = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            raise EOFError("job truncated")
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


# --------------------------------------------------------------------------- the child (runs the solution)


def _encode(value, depth=0):
    """JSON text of a return value, built from the real data (never the object's own methods)."""
    if depth > 500:
        raise ValueError("nesting too deep")
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if isinstance(value, str):
        import _json

        return _json.encode_basestring_ascii(str.__str__(value))
    if isinstance(value, (list, tuple)):
        items = list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value)
        return "[" + ",".join(_encode(v, depth + 1) for v in items) + "]"
    if isinstance(value, dict):
        parts = []
        for k, v in dict.items(value):
            if isinstance(k, str):
                key = str.__str__(k)
            elif k is None or isinstance(k, (bool, int, float)):
                key = _encode(k, depth + 1)
            else:
                raise TypeError("dict key of type " + type(k).__name__)
            import _json

            parts.append(_json.encode_basestring_ascii(key) + ":" + _encode(v, depth + 1))
        return "{" + ",".join(parts) + "}"
    raise TypeError("return value of type " + type(value).__name__ + " is not JSON-serialisable")


def _report_exception(code_text):
    try:
        import linecache
        import traceback

        linecache.cache["solution.py"] = (len(code_text), None, code_text.splitlines(True), "solution.py")
        etype, value, tb = sys.exc_info()
        # drop the runner's own frames: show the solution's part of the traceback only
        while tb is not None and tb.tb_frame.f_code.co_filename != "solution.py":
            tb = tb.tb_next
        traceback.print_exception(etype, value, tb)
    except BaseException:
        try:
            os.write(2, (type(sys.exc_info()[1]).__name__ + "\n").encode())
        except BaseException:
            pass


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except BaseException:
        pass
    return 1


def _resolve(g, fn_name):
    sol = g.get("Solution")
    if isinstance(sol, type) and hasattr(sol, fn_name):
        return getattr(sol(), fn_name)
    fn = g.get(fn_name)
    if callable(fn):
        return fn
    raise NameError("function " + repr(fn_name) + " is not defined (neither top-level nor in class Solution)")


class _Quitter:
    """`exit()` / `quit()`: normally added by the site module, which -S skips."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Use %s() or Ctrl-D (i.e. EOF) to exit" % self.name

    def __call__(self, code=None):
        raise SystemExit(code)


def _run_solution(job, code_obj, prelude_ns, args):
    import builtins

    for name in ("exit", "quit"):
        if not hasattr(builtins, name):
            setattr(builtins, name, _Quitter(name))

    g = dict(prelude_ns)
    g.update({"__name__": "__main__", "__builtins__": builtins, "__doc__": None, "__package__": None})
    rc = 0
    try:
        exec(code_obj, g)
        if job["kind"] == "call":
            fn = _resolve(g, job["fn_name"])
            result = fn(*args)
            try:
                data = _encode(result).encode("ascii")
            except (TypeError, ValueError, RecursionError) as exc:
                data = b"\x00" + str(exc).encode("utf-8", "replace")[:200]
            view = memoryview(data)
            while view:
                view = view[os.write(3, view) :]
    except SystemExit as exc:
        rc = _exit_code(exc)
    except MemoryError:
        rc = RC_MEMORY
        _report_exception(job["code"])
    except BaseException:
        rc = 1
        _report_exception(job["code"])
    # what the interpreter does at exit: join threads, atexit handlers, flush stdio
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
    except BaseException:
        pass
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    try:
        sys.stdout.flush()
    except BaseException:
        if rc == 0:
            rc = 120
    try:
        sys.stderr.flush()
    except BaseException:
        pass
    return rc


def _child(job, code_obj, prelude_ns, args, inp, out_w, err_w, res_w):
    rc = RC_INTERNAL
    try:
        os.setpgid(0, 0)
        os.dup2(inp, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        low = 3
        if res_w is not None:
            os.dup2(res_w, 3)
            low = 4
        os.closerange(low, 1 << 16)
        cpu = int(job["time_s"]) + 1
        for which, value in (
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_AS, job["mem_bytes"]),
            (resource.RLIMIT_CPU, cpu),
            (resource.RLIMIT_FSIZE, job["fsize_bytes"]),
            (resource.RLIMIT_NOFILE, job["nofile"]),
            (resource.RLIMIT_NPROC, job["nproc"]),
            (resource.RLIMIT_STACK, job["mem_bytes"]),  # main-thread growth, up to the gap left at exec
        ):
            _, hard = resource.getrlimit(which)
            top = (
                value + 1 if which == resource.RLIMIT_CPU else value
            )  # SIGXCPU first, SIGKILL a second later
            if hard != resource.RLIM_INFINITY:
                value, top = min(value, hard), min(top, hard)
            resource.setrlimit(which, (value, top))
        if _PRCTL:
            _PRCTL[0](4, 1, 0, 0, 0)  # the solution itself is an ordinary (dumpable) process again
        sys.argv[:] = ["solution.py"]
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(0)  # judged as on the Pythons the datasets were built with
        rc = _run_solution(job, code_obj, prelude_ns, args)
    finally:
        os._exit(rc)


# --------------------------------------------------------------------------- supervising one test


class _Excerpt:
    """Keeps the head and the tail of a stream, counts the rest."""

    def __init__(self):
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data):
        self.total += len(data)
        room = ERR_HEAD - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > ERR_TAIL:
                del self.tail[: len(self.tail) - ERR_TAIL]

    def value(self):
        if self.total > len(self.head) + len(self.tail):
            return bytes(self.head) + b"\n[...]\n" + bytes(self.tail)
        return bytes(self.head + self.tail)


def _input_fd(payload):
    try:
        fd = os.memfd_create("stdin", 0)
    except (AttributeError, OSError):
        import tempfile

        fd, path = tempfile.mkstemp()
        os.unlink(path)
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, 0)
    return fd


def _kill_rest(job, pid):
    try:
        os.killpg(pid, SIGKILL)
    except OSError:
        pass
    if job["pidns"]:
        try:
            os.kill(-1, SIGKILL)  # everything in our namespace but ourselves (PID 1)
        except OSError:
            pass


def _reap_all(job):
    if not job["pidns"]:
        return
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _run_test(job, code_obj, prelude_ns, test):
    call = job["kind"] == "call"
    payload = b"" if call else test.encode("utf-8", "surrogateescape")
    args = test if call else None
    inp = _input_fd(payload)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe() if call else (None, None)
    start = time.monotonic()
    try:
        pid = os.fork()
    except OSError as exc:
        for fd in (inp, out_r, out_w, err_r, err_w, res_r, res_w):
            if fd is not None:
                os.close(fd)
        return ST_INTERNAL, 0, 0, 0.0, b"", ("fork failed: %s" % exc).encode(), b"", 0
    if pid == 0:
        _child(job, code_obj, prelude_ns, args, inp, out_w, err_w, res_w)
    for fd in (inp, out_w, err_w, res_w):
        if fd is not None:
            os.close(fd)
    deadline = start + job["time_s"]
    cap = job["out_bytes"]
    out = bytearray()
    res = bytearray()
    err = _Excerpt()
    open_fds = {out_r: "out", err_r: "err"}
    if call:
        open_fds[res_r] = "res"
    poller = select.poll()
    for fd in open_fds:
        poller.register(fd, select.POLLIN)
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
            poller.register(pidfd, select.POLLIN)
        except OSError:
            pidfd = None
    reason = None
    status = None
    exited = False
    elapsed = 0.0
    drain_until = 0.0
    while True:
        now = time.monotonic()
        if not exited:
            if reason is None and now >= deadline:
                reason = ST_TIMEOUT
            got = 0
            if reason is not None:
                _kill_rest(job, pid)
                got, status = os.waitpid(pid, 0)
            elif pidfd is None:
                got, status = os.waitpid(pid, os.WNOHANG)
            if got:
                exited = True
                elapsed = time.monotonic() - start
                _kill_rest(job, pid)
                drain_until = time.monotonic() + 0.2
        if exited:
            if pidfd is not None:
                poller.unregister(pidfd)
                os.close(pidfd)
                pidfd = None
            if not open_fds or time.monotonic() >= drain_until:
                break
            wait_ms = max(0, int((drain_until - time.monotonic()) * 1000) + 1)
        else:
            wait_ms = max(0, int((deadline - now) * 1000) + 1)
            if pidfd is None:
                wait_ms = min(wait_ms, 5)
        for fd, _ev in poller.poll(wait_ms):
            if fd == pidfd:
                if not exited:
                    _, status = os.waitpid(pid, 0)
                    exited = True
                    elapsed = time.monotonic() - start
                    _kill_rest(job, pid)
                    drain_until = time.monotonic() + 0.2
                continue
            if fd not in open_fds:
                continue
            data = os.read(fd, 1 << 16)
            if not data:
                poller.unregister(fd)
                os.close(fd)
                del open_fds[fd]
                continue
            which = open_fds[fd]
            if which == "out":
                out += data
                if len(out) > cap and reason is None and not exited:
                    reason = ST_OUTPUT
                del out[cap + 1 :]
            elif which == "err":
                err.add(data)
                if err.total > cap and reason is None and not exited:
                    reason = ST_OUTPUT
            else:
                res += data
                if len(res) > cap and reason is None and not exited:
                    reason = ST_OUTPUT
                del res[cap + 1 :]
    for fd in open_fds:
        os.close(fd)
    _reap_all(job)
    rc = sig = 0
    if os.WIFEXITED(status):
        rc = os.WEXITSTATUS(status)
    elif os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
    if reason is not None:
        st = reason
    elif sig == SIGXCPU:
        st = ST_TIMEOUT
    elif sig:
        st = ST_SIGNAL
    elif rc == RC_MEMORY:
        st = ST_MEMORY
    elif rc != 0:
        st = ST_EXIT
    elif call and not res:
        st = ST_NORESULT
    else:
        st = ST_OK
    return st, rc, sig, elapsed, bytes(out), err.value(), bytes(res), err.total


# --------------------------------------------------------------------------- compiling


def _bound_names(nodes, ast):
    """Names a block binds in its own scope (not in nested functions, classes, lambdas or
    comprehension variables), and those of them that are annotated there."""
    names, annotated = set(), set()
    todo = list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.comprehension):  # its target is the comprehension's own
            todo.append(node.iter)
            todo.extend(node.ifs)
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            annotated.add(node.target.id)
        elif type(node).__name__ in ("MatchAs", "MatchStar") and node.name:
            names.add(node.name)
        elif type(node).__name__ == "MatchMapping" and node.rest:
            names.add(node.rest)
        todo.extend(ast.iter_child_nodes(node))
    return names, annotated


def _compile_in_function(code_text):
    """The APPS/TACO harness runs a stdin program as the body of a function, so a top-level
    ``return`` ends the program. For a program that only compiles that way: its statements (after
    the leading imports, which stay at module level as in the harness) become the body of a function
    called once, with every name they bind declared ``global`` so that they stay the module's
    globals, as in the program as written (nested functions, ``global`` statements and
    ``__name__ == "__main__"`` work unchanged; annotated names stay local)."""
    import ast

    tree = ast.parse(code_text, "solution.py")
    n = 0
    while n < len(tree.body) and isinstance(tree.body[n], (ast.Import, ast.ImportFrom)):
        n += 1
    head, body = tree.body[:n], tree.body[n:]
    names, annotated = _bound_names(body, ast)
    template = ast.parse("def _program():\n    pass\n_program()\n")
    fn, call = template.body
    first, last = body[0].lineno, getattr(body[-1], "end_lineno", None) or body[-1].lineno
    for node in ast.walk(template):  # the wrapper sits on the program's own lines (tracebacks)
        node.lineno = node.end_lineno = last if node in ast.walk(call) else first
        node.col_offset = node.end_col_offset = 0
    fn.end_lineno = last
    declared = sorted(names - annotated)
    fn.body = ([ast.Global(names=declared, lineno=first, col_offset=0)] if declared else []) + body
    module = ast.Module(body=[*head, fn, call], type_ignores=[])
    ast.fix_missing_locations(module)
    return compile(module, "solution.py", "exec", dont_inherit=True)


def _compile(job):
    try:
        return compile(job["code"], "solution.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        if job["kind"] != "stdin" or exc.msg != "'return' outside function":
            raise
        try:
            return _compile_in_function(job["code"])
        except BaseException:
            raise exc from None


# --------------------------------------------------------------------------- main


def _preload(code_text, prelude):
    ns = {}
    if prelude:
        try:
            exec(compile(prelude, "<prelude>", "exec"), ns)
        except BaseException:
            pass
    names = set()
    for line in code_text.splitlines():
        s = line.strip()
        if s.startswith("import "):
            for part in s[7:].split(","):
                names.add(part.strip().split(" ")[0].split(".")[0])
        elif s.startswith("from "):
            names.add(s[5:].split(" ")[0].split(".")[0])
    for name in sorted(names & PRELOAD_OK):
        try:
            __import__(name)
        except BaseException:
            pass
    ns.pop("__builtins__", None)
    return ns


def _int_keys(value):
    if isinstance(value, dict):
        try:
            return {int(k): _int_keys(v) for k, v in value.items()}
        except (TypeError, ValueError):
            return {k: _int_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_int_keys(v) for v in value]
    return value


_PROTO = [1]
_PRCTL = []


def _make_nondumpable():
    """prctl(PR_SET_DUMPABLE, 0): the solution (same uid) can then neither ptrace the runner nor open
    its /proc/<pid>/mem or /proc/<pid>/fd/* (the report channel). Via _ctypes: ~2 ms, ctypes is ~10."""
    try:
        import _ctypes

        class _Int(_ctypes._SimpleCData):
            _type_ = "i"

        class _Fn(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = _Int

        prctl = _Fn(_ctypes.dlsym(_ctypes.dlopen(None, 2), "prctl"))
        _PRCTL.append(prctl)
        return prctl(4, 0, 0, 0, 0) == 0 and prctl(3, 0, 0, 0, 0) == 0
    except Exception:
        return False


def main():
    proto = os.dup(1)
    _PROTO[0] = proto
    devnull = os.open("/dev/null", os.O_RDWR)
    protected = _make_nondumpable()
    _frame(proto, b"H", b"%d %d" % (os.getpid(), protected))
    size = int.from_bytes(_read_exact(0, 8), "little")
    job = marshal.loads(_read_exact(0, size))
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    os.environ.clear()
    for name in list(os.environ):
        os.unsetenv(name)
    try:
        os.chdir(job["cwd"])
    except OSError:
        pass
    if job.get("runner_as"):
        resource.setrlimit(resource.RLIMIT_AS, (job["runner_as"], job["runner_as"]))
    try:
        code_obj = _compile(job)
    except BaseException as exc:
        msg = "%s: %s" % (type(exc).__name__, exc)
        _frame(proto, b"C", b"err\n" + msg.encode("utf-8", "replace")[:4000])
        _frame(proto, b"D", b"")
        return
    _frame(proto, b"C", b"ok")
    prelude_ns = _preload(job["code"], "".join(PRELUDES.get(name, "") for name in job["prelude"]))
    tests = job["tests"]
    if job["kind"] == "call" and job.get("int_keys"):
        tests = [_int_keys(t) for t in tests]
    base = job.get("index_base", 0)
    for i, test in enumerate(tests):
        st, rc, sig, elapsed, out, err, res, err_total = _run_test(job, code_obj, prelude_ns, test)
        head = "%d %s %d %d %d %d %d %d %d\n" % (
            base + i,
            st,
            rc,
            sig,
            int(elapsed * 1e6),
            len(out),
            len(err),
            len(res),
            err_total,
        )
        _frame(proto, b"T", head.encode() + out + err + res)
        if job["fail_fast"] and st != ST_OK:
            break
    _frame(proto, b"D", b"")


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:  # report, never hang: the judge treats this as a sandbox failure
        try:
            _frame(_PROTO[0], b"X", ("%s: %s" % (type(exc).__name__, exc)).encode()[:2000])
        except BaseException:
            pass
        os._exit(RC_INTERNAL)
