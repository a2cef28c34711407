"""`thoughtmill train run CONFIG`: launch `llamafactory-cli train` and follow its progress.

The trainer runs in the LLaMA-Factory environment as a child process; its output is streamed line by
line and `trainer_log.jsonl` (one JSON object per logging step) is tailed for progress, so the caller
gets structured events and, at the end, a summary (steps, losses, checkpoints) instead of a log to read.
Several GPUs or nodes go through LLaMA-Factory's own torchrun launcher (FORCE_TORCHRUN and the
NNODES / NODE_RANK / NPROC_PER_NODE / MASTER_ADDR / MASTER_PORT variables it reads).
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thoughtmill.training.environment import find_train_python, subprocess_env, train_bin
from thoughtmill.training.errors import LaunchError
from thoughtmill.training.validate import read_config

TRAINER_LOG = "trainer_log.jsonl"


@dataclass
class Distributed:
    """Where this process sits in a multi-GPU / multi-node job (all None: one process)."""

    nproc_per_node: int | None = None
    nnodes: int | None = None
    node_rank: int | None = None
    master_addr: str | None = None
    master_port: int | None = None

    def env(self) -> dict[str, str]:
        """The variables LLaMA-Factory's launcher reads; FORCE_TORCHRUN when more than one process."""
        values = {
            "NPROC_PER_NODE": self.nproc_per_node,
            "NNODES": self.nnodes,
            "NODE_RANK": self.node_rank,
            "MASTER_ADDR": self.master_addr,
            "MASTER_PORT": self.master_port,
        }
        env = {k: str(v) for k, v in values.items() if v is not None}
        if (self.nproc_per_node or 1) > 1 or (self.nnodes or 1) > 1:
            env["FORCE_TORCHRUN"] = "1"
        return env


@dataclass
class RunSummary:
    """What a training run did, read from its trainer log and output folder."""

    config: str
    output_dir: str
    returncode: int
    wall_s: float
    steps: int = 0
    total_steps: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    log_tail: list[str] = field(default_factory=list)

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1][1] if self.losses else None

    @property
    def losses_finite(self) -> bool:
        return bool(self.losses) and all(math.isfinite(v) for _, v in self.losses)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["final_loss"] = self.final_loss
        data["losses_finite"] = self.losses_finite
        return data


class TrainerLogTail:
    """New entries of trainer_log.jsonl since the last read (survives the file being recreated)."""

    def __init__(self, path: Path):
        self.path = path
        self._inode: int | None = None
        self._offset = 0
        self._partial = ""
        if path.exists():  # a previous run's log: skip what is already there
            st = path.stat()
            self._inode, self._offset = st.st_ino, st.st_size

    def read(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        if st.st_ino != self._inode or st.st_size < self._offset:
            self._inode, self._offset, self._partial = st.st_ino, 0, ""
        if st.st_size == self._offset:
            return []
        with self.path.open(encoding="utf-8") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
            self._offset = fh.tell()
        text = self._partial + chunk
        lines = text.split("\n")
        self._partial = lines.pop()
        entries = []
        for line in lines:
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return entries


def _checkpoints(output_dir: Path) -> list[str]:
    found = [p for p in output_dir.glob("checkpoint-*") if p.is_dir()]
    return [
        str(p)
        for p in sorted(
            found, key=lambda p: int(p.name.rsplit("-", 1)[-1]) if p.name.rsplit("-", 1)[-1].isdigit() else 0
        )
    ]


def run(
    config: str | Path,
    *,
    cwd: str | Path | None = None,
    distributed: Distributed | None = None,
    extra_env: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> RunSummary:
    """Run `llamafactory-cli train CONFIG` to the end; raise LaunchError (with its last output) on failure."""
    config_path = Path(config).resolve()
    base = Path(cwd).resolve() if cwd else Path.cwd()
    args = read_config(config_path)
    output_dir = Path(str(args.get("output_dir", "")))
    output_dir = output_dir if output_dir.is_absolute() else base / output_dir
    python = find_train_python()
    cli = train_bin("llamafactory-cli", python)
    env = subprocess_env({**(distributed or Distributed()).env(), **(extra_env or {})})
    tail = TrainerLogTail(output_dir / TRAINER_LOG)
    summary = RunSummary(config=str(config_path), output_dir=str(output_dir), returncode=-1, wall_s=0.0)
    recent: deque[str] = deque(maxlen=40)

    def follow() -> None:
        for entry in tail.read():
            summary.steps = int(entry.get("current_steps", summary.steps))
            summary.total_steps = int(entry.get("total_steps", summary.total_steps))
            if "loss" in entry:
                summary.losses.append((summary.steps, float(entry["loss"])))
            if on_progress:
                on_progress(entry)

    started = time.monotonic()
    proc = subprocess.Popen(
        [str(cli), "train", str(config_path)],
        cwd=base,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    )
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            recent.append(line[-500:])
            if on_line:
                on_line(line)
            follow()
        summary.returncode = proc.wait()
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    follow()
    summary.wall_s = round(time.monotonic() - started, 2)
    summary.checkpoints = _checkpoints(output_dir)
    summary.log_tail = list(recent)[-15:]
    if summary.returncode != 0:
        raise LaunchError(
            f"llamafactory-cli train {config_path} exited with {summary.returncode} (cwd {base}). "
            "Last output:\n" + "\n".join(summary.log_tail)
        )
    if summary.steps == 0:
        raise LaunchError(
            f"llamafactory-cli train {config_path} finished but {output_dir / TRAINER_LOG} recorded no step"
        )
    return summary
