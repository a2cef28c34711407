"""Run Python as an unprivileged user, optionally on a host without bubblewrap (for the sandbox tests).

CI runs as root, where the kernel behaves differently (RLIMIT_NPROC ignored, every mount allowed):
the non-root paths of the sandbox are only exercised when a test drops to another uid explicitly.
As root that is ``setpriv --reuid 65534``; when the tests already run as another user, as that user.
"Without bubblewrap" is a PATH holding every command of the system's bin directories except ``bwrap``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NOBODY = 65534
REPO = Path(__file__).resolve().parents[2]
BIN_DIRS = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")
#: set in the environment of the unprivileged runs, so a suite run that way does not recurse
NESTED = "THOUGHTMILL_TEST_UNPRIVILEGED"


def can_drop_privileges() -> bool:
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


def shared_tempdir(prefix: str) -> Path:
    """A temporary directory the unprivileged user can use (pytest's own are private to root)."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o777)
    return d


def path_without_bwrap(where: Path) -> str:
    """A PATH on which every system command is found except bubblewrap."""
    bin_dir = where / "bin-without-bwrap"
    bin_dir.mkdir(exist_ok=True)
    for d in BIN_DIRS:
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            link = bin_dir / name
            if name != "bwrap" and not link.exists() and not link.is_symlink():
                link.symlink_to(os.path.join(d, name))
    bin_dir.chmod(0o755)
    return str(bin_dir)


def _drop() -> list[str]:
    if os.geteuid() != 0:
        return []
    return [shutil.which("setpriv") or "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@functools.lru_cache(maxsize=1)
def unprivileged_python() -> tuple[str, dict[str, str]]:
    """An interpreter the unprivileged user can start (and that can start itself again, as the judge
    workers do), with the environment that lets it import this project and its dependencies.

    This environment's own interpreter may live where that user cannot go (a pyenv build under
    /root); then the system's interpreter of the same version runs with our site-packages on PYTHONPATH.
    """
    paths = os.pathsep.join([str(REPO), *site.getsitepackages()])
    system = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    check = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import thoughtmill.execution'], check=True)"
    for python, env in ((sys.executable, {}), (system, {"PYTHONPATH": paths})):
        if not os.path.exists(python):
            continue
        res = subprocess.run(
            [*_drop(), python, "-c", check],
            env={**os.environ, **env},
            cwd="/",
            capture_output=True,
            timeout=120,
            check=False,
        )
        if res.returncode == 0:
            return python, env
    raise RuntimeError("no Python interpreter the unprivileged user can run")


def unprivileged_env(where: Path, *, bwrap: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THOUGHTMILL_SANDBOX")}
    env.update(unprivileged_python()[1])
    env.update(
        {
            "HOME": str(where),
            "TMPDIR": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            NESTED: "1",
        }
    )
    if not bwrap:
        env["PATH"] = path_without_bwrap(where)
    env.update(extra or {})
    return env


def run_unprivileged(
    argv: list[str], where: Path, *, bwrap: bool, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run argv as uid/gid 65534 (when root) or as ourselves, in `where`."""
    drop = []
    if os.geteuid() == 0:
        drop = [
            shutil.which("setpriv") or "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
        ]
    return subprocess.run(
        [*drop, *argv],
        env=unprivileged_env(where, bwrap=bwrap, extra=env),
        cwd=where,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_driver(
    code: str, where: Path, *, bwrap: bool, env: dict[str, str] | None = None, timeout: float = 300
) -> dict[str, Any]:
    """Run a Python driver unprivileged; it prints one JSON object as its last line, returned here."""
    python = unprivileged_python()[0]
    res = run_unprivileged([python, "-c", code], where, bwrap=bwrap, env=env, timeout=timeout)
    lines = res.stdout.strip().splitlines()
    assert res.returncode == 0 and lines, f"driver failed (rc {res.returncode}):\n{res.stdout}\n{res.stderr}"
    return json.loads(lines[-1])
