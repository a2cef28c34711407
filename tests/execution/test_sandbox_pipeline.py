"""The pipeline refuses to judge code without real isolation unless told so by a name saying "unsafe".

The offline demo run (recorded teacher answers, code problems included) on a host where only the
``rlimits`` layer works (forced here): without the opt-in the command fails with the sandbox's own
message and no traceback, when the run starts (before anything is paid for); with ``--unsafe-weak-isolation`` or the config key it completes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
THOUGHTMILL = shutil.which("thoughtmill", path=os.path.dirname(sys.executable))


def _demo(run_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "THOUGHTMILL_SANDBOX": "rlimits"}
    return subprocess.run(
        [THOUGHTMILL, "demo", "--run-dir", str(run_dir), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )


@pytest.mark.skipif(THOUGHTMILL is None, reason="the thoughtmill command is not installed beside this Python")
@pytest.mark.parametrize(
    "opt_in", [None, "--unsafe-weak-isolation", "stages.verify.code.unsafe_weak_isolation=true"]
)
def test_pipeline_needs_real_isolation_or_the_unsafe_opt_in(opt_in: str | None, tmp_path: Path):
    res = _demo(tmp_path / "run", *([opt_in] if opt_in else []))
    if opt_in is None:
        assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
        assert "error: refusing to run untrusted code" in res.stderr, res.stderr[-3000:]
        assert "bubblewrap" in res.stderr and "--unsafe-weak-isolation" in res.stderr
        assert "Traceback" not in res.stderr
        # refused when the run starts, before any teacher answer is bought or any stage runs
        assert "[sources]" not in res.stdout and "[generate]" not in res.stdout, res.stdout[-2000:]
        assert not (tmp_path / "run" / "generate").exists()
    else:
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
        assert "falling back to the 'rlimits' layer" in res.stderr
