"""Per-sandbox memory and pids cgroups (v1 or v2), where this process may create them (root).

A memory bomb that forks is bounded as a whole only by a cgroup; emptying a slot switches forking off
first (pids.max = 0), so a fork bomb cannot outrun the kill loop. Used by the judge through
``sandbox.cgroups()``; without cgroups the sandbox bounds memory with rlimits (see sandbox.py).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from thoughtmill.execution.isolation_processes import kill, reap, reap_orphans

log = logging.getLogger("thoughtmill.execution.sandbox")


class Cgroups:
    """Per-sandbox memory + pids cgroups (v1 or v2), recycled through a free list."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.free: list[CgroupSlot] = []
        self.all: list[CgroupSlot] = []
        self.counter = 0
        self.version, self.bases = self._detect()

    @staticmethod
    def _own_path(controller: str) -> str:
        try:
            for line in Path("/proc/self/cgroup").read_text().splitlines():
                _, ctrls, path = line.split(":", 2)
                if controller in ctrls.split(",") or (controller == "" and ctrls == ""):
                    return path
        except OSError:
            pass
        return "/"

    def _detect(self) -> tuple[int, dict[str, Path]]:
        if os.environ.get("THOUGHTMILL_CGROUPS", "1") == "0" or os.geteuid() != 0:
            return 0, {}
        root = Path("/sys/fs/cgroup")
        bases: dict[str, Path] = {}
        if (root / "memory" / "cgroup.procs").exists():  # v1 (or hybrid)
            for ctrl in ("memory", "pids"):
                base = root / ctrl / self._own_path(ctrl).lstrip("/") / "thoughtmill"
                with contextlib.suppress(OSError):
                    base.mkdir(parents=True, exist_ok=True)
                    probe = base / f"probe-{os.getpid()}"
                    probe.mkdir(exist_ok=True)
                    probe.rmdir()
                    bases[ctrl] = base
            for base in bases.values():
                self._sweep(base)
            return (1, bases) if bases else (0, {})
        if (
            root / "cgroup.controllers"
        ).exists():  # v2: a sibling tree at the root (no internal processes rule)
            ctrls = set((root / "cgroup.controllers").read_text().split())
            if not {"memory", "pids"} & ctrls:
                return 0, {}
            base = root / "thoughtmill"
            try:
                base.mkdir(exist_ok=True)
                want = " ".join(f"+{c}" for c in ("memory", "pids") if c in ctrls)
                with contextlib.suppress(OSError):
                    (root / "cgroup.subtree_control").write_text(want)
                (base / "cgroup.subtree_control").write_text(want)
                return 2, {"v2": base}
            except OSError:
                return 0, {}
        return 0, {}

    @staticmethod
    def _sweep(base: Path) -> None:
        """Remove empty slots left by judge processes that died without cleaning up."""
        with contextlib.suppress(OSError):
            for d in base.iterdir():
                if d.is_dir() and d.name.startswith("s") and "-" in d.name:
                    pid = d.name[1:].split("-", 1)[0]
                    if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                        with contextlib.suppress(OSError):
                            d.rmdir()

    def describe(self) -> dict[str, Any]:
        return (
            {"version": self.version, "controllers": sorted(self.bases)}
            if self.version
            else {"version": None}
        )

    def acquire(self, memory_bytes: int, max_pids: int) -> CgroupSlot | None:
        if not self.version:
            return None
        with self.lock:
            slot = self.free.pop() if self.free else None
            if slot is None:
                self.counter += 1
                name = f"s{os.getpid()}-{self.counter}"
                slot = CgroupSlot(self.version, {k: v / name for k, v in self.bases.items()})
                try:
                    slot.create()
                except OSError as exc:
                    log.warning("cannot create cgroup %s (%s); continuing without", name, exc)
                    self.version = 0
                    return None
                self.all.append(slot)
        try:
            slot.configure(memory_bytes, max_pids)
        except OSError as exc:
            log.warning("cannot configure cgroup (%s); continuing without", exc)
            return None
        return slot

    def release(self, slot: CgroupSlot | None) -> None:
        if slot is None:
            return
        if not slot.kill_all():
            return  # never reuse a slot that still holds processes
        with self.lock:
            self.free.append(slot)

    def cleanup(self) -> None:
        with self.lock:
            for slot in self.all:
                slot.kill_all()
                slot.remove()
            self.all.clear()
            self.free.clear()


@dataclasses.dataclass
class CgroupSlot:
    version: int
    dirs: dict[str, Path]
    oom_before: int = 0

    def create(self) -> None:
        for d in self.dirs.values():
            d.mkdir(exist_ok=True)

    def join(self, pid: int) -> None:
        for f in self.procs_files():
            Path(f).write_text(str(pid))

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def configure(self, memory_bytes: int, max_pids: int) -> None:
        if self.version == 1:
            if "memory" in self.dirs:
                (self.dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            if "pids" in self.dirs:
                (self.dirs["pids"] / "pids.max").write_text(str(max_pids))
        else:
            d = self.dirs["v2"]
            with contextlib.suppress(OSError):
                (d / "memory.max").write_text(str(memory_bytes))
                (d / "memory.swap.max").write_text("0")
            with contextlib.suppress(OSError):
                (d / "pids.max").write_text(str(max_pids))
        self.oom_before = self.oom_kills()

    def oom_kills(self) -> int:
        path = (
            self.dirs.get("memory", Path("/nonexistent")) / "memory.oom_control"
            if self.version == 1
            else self.dirs["v2"] / "memory.events"
        )
        try:
            for line in path.read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def oom_happened(self) -> bool:
        return self.oom_kills() > self.oom_before

    def pids(self) -> list[int]:
        out: set[int] = set()
        for f in self.procs_files():
            with contextlib.suppress(OSError, ValueError):
                out.update(int(x) for x in Path(f).read_text().split())
        return sorted(out)

    def kill_all(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process in the slot until it is empty (a fork bomb cannot outrun it: forking
        is switched off first by setting pids.max to 0, cgroup v2 kills the lot in one write)."""
        pids_dir = self.dirs.get("pids") if self.version == 1 else self.dirs.get("v2")
        if pids_dir is not None:
            with contextlib.suppress(OSError):
                (pids_dir / "pids.max").write_text("0")
        if self.version == 2:
            with contextlib.suppress(OSError):
                (self.dirs["v2"] / "cgroup.kill").write_text("1")
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                kill(pid)
                reap(pid)
            reap_orphans()
            if time.monotonic() > deadline:
                log.error("cgroup %s still has processes %s", self.dirs, pids[:10])
                return False
            time.sleep(0.002)

    def remove(self) -> None:
        for d in self.dirs.values():
            with contextlib.suppress(OSError):
                d.rmdir()


_CGROUPS: Cgroups | None = None
_CGROUPS_LOCK = threading.Lock()


def cgroups() -> Cgroups:
    """This process's cgroup manager (created on first use, emptied at exit)."""
    global _CGROUPS
    with _CGROUPS_LOCK:
        if _CGROUPS is None:
            _CGROUPS = Cgroups()
            atexit.register(_CGROUPS.cleanup)
        return _CGROUPS
