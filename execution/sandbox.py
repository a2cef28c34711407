"""Isolation: which layer this host supports, how a sandboxed runner is started, what it isolates.

Layers, strongest first (detected once per process by actually starting a sandbox, whose probe
reports from inside the uid, capabilities, seccomp mode and environment the code would get; override
with ``THOUGHTMILL_SANDBOX=bubblewrap|unshare|rlimits``, demand a minimum with
``THOUGHTMILL_SANDBOX_REQUIRE=...``):

``bubblewrap``
    ``bwrap --unshare-all --as-pid-1``: new user, pid, network (no interfaces but loopback), mount,
    ipc, uts and cgroup namespaces; a root of its own with only the interpreter's directories
    bound read-only; fresh /proc and /dev; private size-capped tmpfs on /tmp and /dev/shm; the root
    and /dev read-only; an empty environment (bwrap itself is started with an empty one too, so
    nothing of the host is in any /proc/*/environ). As root the launcher drops to uid/gid 65534 on
    the host (setpriv) before bwrap, so the solution is nobody both inside and outside, and
    RLIMIT_NPROC (not enforced for uid 0) counts the processes of this sandbox only.
``unshare``
    util-linux ``unshare`` (pid, net, mount, ipc, uts) with a fresh /proc, private tmpfs on /tmp,
    /var/tmp and /dev/shm, home/work directories hidden, ``/`` remounted read-only. As root the code
    then runs as host uid 65534; otherwise the mounts are made as root of a user namespace and the
    code runs as uid 65534 of a nested one (no capability anywhere, RLIMIT_NPROC per sandbox).
    Weaker: the rest of the host's file system stays readable where its permissions allow.
``rlimits``
    no namespaces: a new session, uid 65534 when root, rlimits, a private working directory.
    No network or file-system isolation: `require_isolation` refuses it unless the caller passes
    ``unsafe_weak_isolation=True``.

In every layer: the seccomp filter of seccomp_policy.py (installed by seccomp_loader.py before the
runner starts), rlimits (CPU, AS, FSIZE, NOFILE, NPROC, CORE) inside, a wall clock kept by the judge,
an empty environment, and (when this process may create them: root, cgroup v1 or v2) a memory and a
pids cgroup per running sandbox (isolation_cgroups.py), so memory bombs that fork are bounded as a whole.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from thoughtmill.execution import seccomp_policy
from thoughtmill.execution.errors import SandboxUnavailable
from thoughtmill.execution.isolation_cgroups import CgroupSlot as CgroupSlot
from thoughtmill.execution.isolation_cgroups import cgroups as cgroups
from thoughtmill.execution.isolation_processes import become_subreaper as become_subreaper
from thoughtmill.execution.isolation_processes import children_of as children_of
from thoughtmill.execution.isolation_processes import kill as kill
from thoughtmill.execution.isolation_processes import reap as reap
from thoughtmill.execution.isolation_processes import reap_orphans as reap_orphans

from thoughtmill import import_root

log = logging.getLogger("thoughtmill.execution.sandbox")

BUBBLEWRAP = "bubblewrap"
UNSHARE = "unshare"
RLIMITS = "rlimits"
LAYERS = (BUBBLEWRAP, UNSHARE, RLIMITS)
NOBODY = 65534

RUNNER_SOURCE = (Path(__file__).with_name("runner.py")).read_text()
SECCOMP_LOADER_SOURCE = (Path(__file__).with_name("seccomp_loader.py")).read_text()


class IsolationWarning(UserWarning):
    """Code runs with weaker isolation than bubblewrap on this host."""


class WeakIsolationRefused(SandboxUnavailable):
    """Only a layer without real isolation works here, and the caller did not opt in to it."""


# --------------------------------------------------------------------------- detection


@dataclasses.dataclass
class Config:
    layer: str
    python: str
    python_version: str
    python_prefixes: list[str]
    root: bool
    bwrap: str | None = None
    setpriv: str | None = None
    unshare: str | None = None
    sh: str = "/bin/sh"
    drop_uid: bool = False
    pidns: bool = False
    warnings: list[str] = dataclasses.field(default_factory=list)
    probe_ms: float = 0.0
    runner_code: str = ""  # the runner, compiled by the sandbox interpreter (marshal + base64)
    seccomp_bpf: str = ""  # the seccomp filter (base64 BPF from libseccomp); empty: none applied
    seccomp_note: str = ""  # why there is no filter
    inside: dict[str, Any] = dataclasses.field(default_factory=dict)  # what the probe saw inside

    @property
    def host_uid(self) -> int:
        """The uid the solution's processes have on the host (as the kernel counts them)."""
        return NOBODY if self.drop_uid else os.geteuid()

    @property
    def nproc_per_sandbox(self) -> bool:
        """RLIMIT_NPROC counts this sandbox's processes only: they are a non-root host user in a
        user namespace of their own (the kernel counts processes per user and namespace, and never
        limits host root)."""
        own_userns = self.layer == BUBBLEWRAP or (self.layer == UNSHARE and not self.root)
        return own_userns and self.host_uid != 0

    @property
    def real_isolation(self) -> bool:
        """Own network, pid and mount namespaces, and the code holds no capability and is not uid 0
        (as measured from inside by the probe)."""
        return (
            self.layer in (BUBBLEWRAP, UNSHARE)
            and self.inside.get("uid") not in (None, 0)
            and _no_capabilities(self.inside.get("cap_eff"))
        )

    def report(self) -> dict[str, Any]:
        return isolation_report(self)


def _no_capabilities(cap_eff: str | None) -> bool:
    try:
        return cap_eff is not None and int(cap_eff, 16) == 0
    except ValueError:
        return False


#: how to get real isolation where only the rlimits layer works (one fact, used in errors and the report)
HOW_TO_ISOLATE = (
    "install bubblewrap (`make sysdeps`, or `apt-get install bubblewrap`) or enable unprivileged user "
    "namespaces (`sysctl kernel.unprivileged_userns_clone=1`, `sysctl user.max_user_namespaces=15000`; "
    "AppArmor hosts: `sysctl kernel.apparmor_restrict_unprivileged_userns=0`)"
)
HOW_TO_OPT_IN = (
    "or accept running untrusted code without isolation: run_tests/run_batch(..., "
    "unsafe_weak_isolation=True), `stages.verify.code.unsafe_weak_isolation: true` in the pipeline config, "
    "or `thoughtmill run --unsafe-weak-isolation`"
)


def isolation_report(cfg: Config) -> dict[str, Any]:
    """What the chosen layer does and does not isolate, as measured (uid, capabilities, seccomp)."""
    d = dataclasses.asdict(cfg)
    d.pop("runner_code")
    d.pop("seccomp_bpf")
    isolated = cfg.layer in (BUBBLEWRAP, UNSHARE)
    cg = cgroups().describe()
    d["cgroups"] = cg
    d["real_isolation"] = cfg.real_isolation
    d["uid_in_sandbox"] = cfg.inside.get("uid")
    d["gid_in_sandbox"] = cfg.inside.get("gid")
    d["host_uid"] = cfg.host_uid
    cap = cfg.inside.get("cap_eff")
    d["capabilities_in_sandbox"] = "none" if _no_capabilities(cap) else f"CapEff={cap} (NOT dropped)"
    d["network"] = "none" if isolated else "host (NOT isolated): it can reach 127.0.0.1 and beyond"
    d["filesystem"] = {
        BUBBLEWRAP: "private root: interpreter dirs read-only, private tmpfs /tmp",
        UNSHARE: "host root read-only, private tmpfs /tmp /var/tmp /dev/shm, home/work dirs hidden "
        "(the rest of the host stays readable where its permissions allow)",
        RLIMITS: "host file system (NOT isolated), private working directory",
    }[cfg.layer]
    if isolated:
        d["processes"] = "own pid namespace: every process it starts dies with the sandbox"
        d["environment"] = "empty; no other process is visible"
    else:
        d["processes"] = "host pid namespace (NOT isolated): " + (
            "escaped processes are killed through the cgroup"
            if cg["version"]
            else "processes that leave the session can survive"
        )
        d["environment"] = "empty, " + (
            "and it runs as uid 65534: other users' /proc/*/environ are unreadable"
            if cfg.drop_uid
            else f"but NOT isolated: /proc/*/environ of every uid-{cfg.host_uid} process "
            "(the judge's and its parents', API keys included) is readable"
        )
    if cg["version"]:
        memory = {"total_bound": True, "how": "a memory cgroup per sandbox"}
    elif cfg.nproc_per_sandbox:
        memory = {
            "total_bound": True,
            "how": "RLIMIT_AS per process x RLIMIT_NPROC counted in the sandbox's own user namespace "
            "(about max_processes x memory_mb)",
        }
    else:
        memory = {"total_bound": False, "how": "RLIMIT_AS per process only (NOT bounded overall)"}
    d["memory"] = memory
    seccomp_on = cfg.inside.get("seccomp") == "2"
    d["seccomp"] = {
        "applied": seccomp_on,
        "denied": list(seccomp_policy.DENIED_SYSCALLS) if seccomp_on else [],
        "note": "" if seccomp_on else (cfg.seccomp_note or "not applied"),
    }
    if not cfg.real_isolation:
        d["missing"] = "real isolation: " + HOW_TO_ISOLATE
    return d


def _probe_python(path: str) -> tuple[str, list[str]] | None:
    code = (
        "import sys, os, select; assert sys.version_info >= (3, 8); "
        "print('%d.%d.%d' % sys.version_info[:3]); print(sys.base_prefix); print(sys.base_exec_prefix); "
        "print(os.path.dirname(os.path.realpath(sys.executable)))"
    )
    try:
        res = subprocess.run(
            [path, "-I", "-S", "-c", code], env={}, capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    lines = res.stdout.split("\n")
    prefixes = sorted({os.path.realpath(p) for p in lines[1:4] if p})
    return lines[0], prefixes


def find_python() -> tuple[str, str, list[str]]:
    """The interpreter solutions run on: THOUGHTMILL_PYTHON, else the first bare system one, else ours."""
    candidates = [os.environ.get("THOUGHTMILL_PYTHON", ""), "/usr/bin/python3", "/usr/local/bin/python3"]
    candidates.append(os.path.realpath(sys.executable))
    for cand in candidates:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            probed = _probe_python(cand)
            if probed:
                return cand, probed[0], probed[1]
    raise SandboxUnavailable("no usable Python >= 3.8 interpreter found for running solutions")


def _system_binds(prefixes: list[str]) -> list[str]:
    """bwrap arguments giving a read-only view of /usr (+ merged-usr symlinks) and the interpreter."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    for pre in prefixes:
        if pre == "/usr" or pre.startswith("/usr/") or pre in ("/", ""):
            continue
        args += ["--ro-bind", pre, pre]
    return args


#: directories the unshare layer covers with a fresh tmpfs before hiding anything else
_PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")


def _hidden_dirs(prefixes: list[str]) -> list[str]:
    hide = []
    extra = [str(Path.cwd()), str(import_root())]
    for d in ["/home", "/root", "/work", "/mnt", "/media", "/srv", "/run", "/opt", "/var/lib", *extra]:
        if not os.path.isdir(d) or d in ("/", "/usr"):
            continue
        if any(d == t or d.startswith(t + "/") for t in _PRIVATE_TMPFS):
            continue  # already hidden under the sandbox's own tmpfs (a checkout under /tmp, say)
        if any(pre == d or pre.startswith(d.rstrip("/") + "/") for pre in prefixes):
            continue  # the interpreter lives there
        if any(d.startswith(h.rstrip("/") + "/") for h in hide):
            continue
        hide.append(d)
    return hide


_CONFIG: Config | None = None
_CONFIG_LOCK = threading.Lock()


def _which(name: str) -> str | None:
    """A command's real path: a symlink on PATH may point out of a directory the sandbox hides."""
    found = shutil.which(name)
    return os.path.realpath(found) if found else None


def _rank(layer: str) -> int:
    return LAYERS.index(layer)


def detect(refresh: bool = False) -> Config:
    """Pick (and cache) the strongest layer that actually runs a sandbox here."""
    global _CONFIG
    with _CONFIG_LOCK:
        if _CONFIG is not None and not refresh:
            return _CONFIG
        python, version, prefixes = find_python()
        root = os.geteuid() == 0
        forced = os.environ.get("THOUGHTMILL_SANDBOX", "").strip().lower()
        if forced and forced not in LAYERS:
            raise SandboxUnavailable(f"THOUGHTMILL_SANDBOX={forced!r}: expected one of {LAYERS}")
        required = os.environ.get("THOUGHTMILL_SANDBOX_REQUIRE", "").strip().lower()
        if required and required not in LAYERS:
            raise SandboxUnavailable(f"THOUGHTMILL_SANDBOX_REQUIRE={required!r}: expected one of {LAYERS}")
        order = [forced] if forced else list(LAYERS)
        bpf, seccomp_note = seccomp_policy.filter_or_reason()
        notes: list[str] = []
        chosen: Config | None = None
        for layer in order:
            cfg = Config(
                layer=layer,
                python=python,
                python_version=version,
                python_prefixes=prefixes,
                root=root,
                bwrap=_which("bwrap"),
                setpriv=_which("setpriv"),
                unshare=_which("unshare"),
                seccomp_note=seccomp_note,
            )
            cfg.pidns = layer in (BUBBLEWRAP, UNSHARE)
            cfg.drop_uid = root and (layer == BUBBLEWRAP or cfg.setpriv is not None)
            if layer == BUBBLEWRAP and not cfg.bwrap:
                notes.append("bubblewrap: `bwrap` not installed (make sysdeps)")
                continue
            if layer == UNSHARE and not cfg.unshare:
                notes.append("unshare: util-linux `unshare` not found")
                continue
            t0 = time.perf_counter()
            ok, why = _probe_with_seccomp(cfg, bpf)
            cfg.probe_ms = (time.perf_counter() - t0) * 1000
            if ok:
                chosen = cfg
                break
            if layer == BUBBLEWRAP and root and cfg.drop_uid:
                # unprivileged user namespaces may be disabled: bwrap as root maps nobody to root instead
                cfg.drop_uid = False
                ok, why2 = _probe_with_seccomp(cfg, bpf)
                if ok:
                    cfg.warnings.append(
                        "bubblewrap runs as host root (unprivileged user namespaces unavailable)"
                    )
                    chosen = cfg
                    break
                why += f"; as root: {why2}"
            notes.append(f"{layer}: {why}")
        if chosen is None:
            raise SandboxUnavailable("no isolation layer works on this host: " + "; ".join(notes))
        chosen.runner_code = compile_runner(chosen.python)
        chosen.warnings = notes + chosen.warnings
        if required and _rank(chosen.layer) > _rank(required):
            raise SandboxUnavailable(
                f"THOUGHTMILL_SANDBOX_REQUIRE={required} but only {chosen.layer!r} works here: "
                + "; ".join(notes)
            )
        if not chosen.seccomp_bpf:
            chosen.warnings.append(f"no seccomp filter: {chosen.seccomp_note}")
        for note in chosen.warnings:
            log.warning("code execution sandbox: %s", note)
        if chosen.layer != BUBBLEWRAP or not chosen.real_isolation:
            weakness = (
                "weaker file-system isolation"
                if chosen.real_isolation
                else "NO real isolation: no network/file-system/process isolation, or the code keeps "
                "privileges; refused unless unsafe_weak_isolation=True"
            )
            msg = (
                f"code execution sandbox: falling back to the {chosen.layer!r} layer ({weakness}); "
                f"reasons: {'; '.join(notes) or 'forced by THOUGHTMILL_SANDBOX'}"
            )
            warnings.warn(msg, IsolationWarning, stacklevel=2)
            log.warning(msg)
        _CONFIG = chosen
        return chosen


def sandbox_report() -> dict[str, Any]:
    """Which isolation layer runs solutions here, and what it does (for logs, run summaries and tests)."""
    return detect().report()


def require_isolation(unsafe_weak_isolation: bool = False) -> Config:
    """The layer to run untrusted code with; refuses one without real isolation unless opted in.

    Real isolation: own network, pid and mount namespaces, and the code is neither uid 0 nor holds
    a capability (measured by the probe). Without it a solution can read the judge's API keys, reach
    local services and outlive its verdict, so running anyway must be the caller's explicit choice.
    """
    cfg = detect()
    if cfg.real_isolation or unsafe_weak_isolation:
        return cfg
    why = "; ".join(cfg.warnings) or f"the {cfg.layer!r} layer was forced by THOUGHTMILL_SANDBOX"
    raise WeakIsolationRefused(
        f"refusing to run untrusted code: only the {cfg.layer!r} sandbox layer works here, which gives "
        f"no real isolation (network, files, processes, environment; runs as host uid {cfg.host_uid}). "
        f"Why: {why}. To get real isolation, {HOW_TO_ISOLATE}; {HOW_TO_OPT_IN}."
    )


#: run inside the sandbox by the probe: what the code would see (environment, ids, privileges)
_PROBE_CODE = (
    "import os, json\n"
    "st = dict(l.rstrip('\\n').split(':\\t', 1) for l in open('/proc/self/status') if ':\\t' in l)\n"
    "print(json.dumps({'env': sorted(set(os.environ) - {'LC_CTYPE'}), 'uid': os.getuid(), "
    "'gid': os.getgid(), 'cap_eff': st.get('CapEff'), 'seccomp': st.get('Seccomp'), "
    "'no_new_privs': st.get('NoNewPrivs')}))\n"
)


def _probe_with_seccomp(cfg: Config, bpf: bytes | None) -> tuple[bool, str]:
    """Probe the layer with the seccomp filter; where only the filter fails, keep the layer without it."""
    if bpf:
        cfg.seccomp_bpf = base64.b64encode(bpf).decode("ascii")
        ok, why = _probe_layer(cfg)
        if ok and cfg.inside.get("seccomp") == "2":
            return True, ""
        cfg.seccomp_bpf = ""
        ok2, why2 = _probe_layer(cfg)
        if not ok2:
            return False, why2
        cfg.seccomp_note = "the filter could not be installed in this layer: " + (
            why or f"the probe saw Seccomp={cfg.inside.get('seccomp')}"
        )
        return True, ""
    return _probe_layer(cfg)


def _probe_layer(cfg: Config) -> tuple[bool, str]:
    """Start one sandbox of this layer; on success `cfg.inside` holds what the probe saw inside."""
    tmp = None
    try:
        if cfg.layer == RLIMITS:
            tmp = make_workdir(cfg)
        argv = build_argv(cfg, None, tmp, tmpfs_bytes=1 << 20, probe=True)
        res = subprocess.run(
            argv, env={}, capture_output=True, timeout=30, check=False, cwd=tmp or "/", **popen_kwargs(cfg)
        )
        inside: dict[str, Any] = {}
        if res.returncode == 0:
            with contextlib.suppress(ValueError):
                inside = json.loads(res.stdout.decode(errors="replace").strip().splitlines()[-1])
        if inside and not inside.get("env"):
            cfg.inside = inside
            return True, ""
        if inside:
            return False, f"the environment is not empty inside: {inside.get('env')}"
        return False, (
            res.stderr.decode(errors="replace").strip().splitlines() or [f"exit {res.returncode}"]
        )[-1]
    except (OSError, subprocess.TimeoutExpired, IndexError) as exc:
        return False, str(exc) or type(exc).__name__
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def make_workdir(cfg: Config) -> str:
    """A private working directory for the rlimits layer, owned by the sandbox uid."""
    d = tempfile.mkdtemp(prefix="tm-run-")
    if cfg.drop_uid:
        os.chown(d, NOBODY, NOBODY)
    os.chmod(d, 0o700)
    return d


# --------------------------------------------------------------------------- the command line


def build_argv(
    cfg: Config,
    slot: CgroupSlot | None,
    workdir: str | None,
    *,
    tmpfs_bytes: int,
    probe: bool = False,
    info_fd: int | None = None,
    block_fd: int | None = None,
) -> list[str]:
    """The command line of one sandbox. For bubblewrap it is bwrap itself (started with
    `popen_kwargs`: as uid 65534 when root); the judge then joins PID 1 to the cgroups, sets its
    stack limit and releases it through `block_fd` (see judge._Session). Other layers go through a
    /bin/sh launcher that does the same before exec'ing."""
    # env -i: bwrap always exports PWD; the runner's (and so every /proc/*/environ) must be empty.
    py = [_which("env") or "/usr/bin/env", "-i", cfg.python, "-I", "-S", "-X", "utf8"]
    if probe:
        program = _PROBE_CODE
    elif cfg.runner_code:
        program = f"import marshal,binascii;exec(marshal.loads(binascii.a2b_base64({cfg.runner_code!r})))"
    else:
        program = RUNNER_SOURCE
    if cfg.seccomp_bpf:  # installed before anything else runs in the sandbox
        program = f"{SECCOMP_LOADER_SOURCE}\n_tm_install_seccomp({cfg.seccomp_bpf!r})\n{program}"
    cmd = [*py, "-c", program]
    if cfg.drop_uid:
        drop = [cfg.setpriv, "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
    elif cfg.layer == UNSHARE and not cfg.root:
        # The outer user namespace maps us to root so the shell can mount; the code then runs in a
        # nested one as uid 65534 there: exec drops every capability, and it is not root anywhere.
        drop = [cfg.unshare, "--user", f"--map-user={NOBODY}", f"--map-group={NOBODY}", "--"]
    else:
        drop = []
    size = str(tmpfs_bytes)
    if cfg.layer == BUBBLEWRAP:
        inner = [
            cfg.bwrap,
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",  # no nested user namespaces (kernel attack surface)
            "--die-with-parent",
            "--new-session",
            "--as-pid-1",
            "--clearenv",
            "--hostname",
            "sandbox",
        ]
        if not cfg.drop_uid:
            inner += ["--uid", str(NOBODY), "--gid", str(NOBODY)]
        if info_fd is not None:
            inner += ["--info-fd", str(info_fd)]
        if block_fd is not None:
            inner += ["--block-fd", str(block_fd)]
        inner += _system_binds(cfg.python_prefixes)
        inner += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp", "--size", size]
        inner += ["--tmpfs", "/dev/shm", "--chdir", "/tmp", "--remount-ro", "/dev", "--remount-ro", "/"]
        return [*inner, "--", *cmd]
    if cfg.layer == UNSHARE:
        ns = [
            cfg.unshare,
            "--pid",
            "--net",
            "--mount",
            "--ipc",
            "--uts",
            "--fork",
            "--kill-child",
            "--mount-proc",
        ]
        if not cfg.root:
            ns[1:1] = ["--user", "--map-root-user"]
        kb = max(tmpfs_bytes // 1024, 64)
        mounts = [f"mount -t tmpfs -o size={kb}k,mode=1777 tmpfs /tmp"]
        for d in _PRIVATE_TMPFS[1:]:
            if os.path.isdir(d):
                mounts.append(f"mount -t tmpfs -o size={kb}k,mode=1777 tmpfs {d}")
        for d in _hidden_dirs(cfg.python_prefixes):
            mounts.append(f"mount -t tmpfs -o size=4k,mode=755 tmpfs {shlex.quote(d)}")
        mounts.append("mount -o remount,bind,ro /")
        mounts.append("cd /tmp")
        script = " && ".join(mounts) + " || exit 98; exec " + " ".join(shlex.quote(a) for a in [*drop, *cmd])
        argv = [*ns, "--", cfg.sh, "-c", script]
    else:
        argv = [*drop, *cmd]
    # The launcher: join the cgroups while still privileged, then exec the layer. One /bin/sh, ~1 ms.
    # (The stack limit stays as it is at exec: glibc sizes default thread stacks from it. Test
    # processes raise their own soft limit instead, for deep recursion on the main thread.)
    pre = [f"echo $$ > {shlex.quote(f)}" for f in (slot.procs_files() if slot else [])]
    script = (" && ".join(pre) + " || exit 97; ") if pre else ""
    script += 'exec "$@"'
    return [cfg.sh, "-c", script, "sh", *argv]


def popen_kwargs(cfg: Config) -> dict[str, Any]:
    """Extra subprocess.Popen arguments: bubblewrap is started directly as uid/gid 65534 when root."""
    if cfg.layer == BUBBLEWRAP and cfg.drop_uid:
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    return {}


def compile_runner(python: str) -> str:
    """The runner compiled by the sandbox's own interpreter (marshal is version specific): saves the
    parse on every start. Empty string when that fails (the source is used instead)."""
    code = (
        "import marshal, binascii, sys; "
        "sys.stdout.write(binascii.b2a_base64(marshal.dumps(compile(sys.stdin.read(), 'runner.py', 'exec')), "
        "newline=False).decode())"
    )
    try:
        res = subprocess.run(
            [python, "-I", "-S", "-c", code],
            input=RUNNER_SOURCE,
            capture_output=True,
            text=True,
            env={},
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return res.stdout.strip() if res.returncode == 0 else ""
