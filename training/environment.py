"""Find the LLaMA-Factory environment.

LLaMA-Factory pins a transformers version that vLLM cannot share, so it lives in its own venv
(`make train-env` builds `.venv-train`). Everything that needs llamafactory runs as a subprocess of
that interpreter; this module decides which interpreter that is.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from thoughtmill.training.errors import TrainEnvironmentMissing

from thoughtmill import import_root

ENV_VAR = "THOUGHTMILL_TRAIN_PYTHON"
VENV_NAME = ".venv-train"
REPO_ROOT = Path(__file__).resolve().parents[1]


def venv_interpreter(
    env_var: str, venv_name: str, roots: Iterable[Path], missing: type[Exception] = FileNotFoundError
) -> Path | None:
    """``$env_var`` when set (``missing`` raised if it is not an executable), else the first
    ``<root>/<venv_name>/bin/python`` that exists, else None.

    The project keeps each heavy stack (LLaMA-Factory, vLLM) in its own venv; this is how every
    caller finds one.
    """
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise missing(f"{env_var}={override} is not an executable Python interpreter.")
        return path
    for root in roots:
        candidate = root / venv_name / "bin" / "python"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_train_python(*, required: bool = True) -> Path | None:
    """Interpreter that has llamafactory: $THOUGHTMILL_TRAIN_PYTHON, then .venv-train, then this one."""
    found = venv_interpreter(ENV_VAR, VENV_NAME, (REPO_ROOT, Path.cwd()), TrainEnvironmentMissing)
    if found is not None:
        return found
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
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(import_root()), env.get("PYTHONPATH", "")) if p)
    if extra:
        env.update(extra)
    return env
