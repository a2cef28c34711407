"""Find the LLaMA-Factory environment.

LLaMA-Factory pins a transformers version that vLLM cannot share, so it lives in its own venv
(`make train-env` builds `.venv-train`). Everything that needs llamafactory runs as a subprocess of
that interpreter; this module decides which interpreter that is.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from training.errors import TrainEnvironmentMissing

ENV_VAR = "THOUGHTMILL_TRAIN_PYTHON"
VENV_NAME = ".venv-train"
REPO_ROOT = Path(__file__).resolve().parents[1]


def _venv_python(root: Path) -> Path:
    return root / VENV_NAME / "bin" / "python"


def find_train_python(*, required: bool = True) -> Path | None:
    """Interpreter that has llamafactory: $THOUGHTMILL_TRAIN_PYTHON, then .venv-train, then this one."""
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise TrainEnvironmentMissing(f"{ENV_VAR}={override} is not an executable Python interpreter.")
        return path
    for root in (REPO_ROOT, Path.cwd()):
        candidate = _venv_python(root)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    if importlib.util.find_spec("llamafactory") is not None:
        return Path(sys.executable)
    if not required:
        return None
    raise TrainEnvironmentMissing(
        f"The LLaMA-Factory environment was not found: no {VENV_NAME}/bin/python under {REPO_ROOT} or "
        f"{Path.cwd()}, {ENV_VAR} is unset and llamafactory is not importable here. "
        f"Build it with `make train-env` (from {REPO_ROOT}), or point {ENV_VAR} at a Python that has "
        "llamafactory installed."
    )


def train_bin(name: str, python: Path | None = None) -> Path:
    """A console script (e.g. `llamafactory-cli`) installed beside the train interpreter."""
    python = python or find_train_python()
    assert python is not None
    script = python.parent / name
    if not script.exists():
        raise TrainEnvironmentMissing(
            f"{script} does not exist: the environment of {python} has no '{name}'. Rebuild it with "
            "`make train-env`."
        )
    return script


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for train-side subprocesses: offline hub, repo importable, no telemetry."""
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("DISABLE_VERSION_CHECK", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("WANDB_DISABLED", "true")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    if extra:
        env.update(extra)
    return env
