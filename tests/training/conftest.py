"""Fixtures for the training tests: the fixture verified set, the train environment, the tiny model."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from thoughtmill.training.environment import REPO_ROOT, find_train_python, subprocess_env

DATA = REPO_ROOT / "tests" / "data" / "training"
FIXTURE = DATA / "verified_sample.jsonl"
TINY_MODEL_DIR = REPO_ROOT / ".cache" / "tiny-model" / "default"


@pytest.fixture(scope="session")
def fixture_rows() -> list[dict]:
    """The ~28 fixture rows (24 verified, 4 not), as written in tests/data/training/."""
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def verified_dir(tmp_path_factory, fixture_rows) -> Path:
    """The fixture saved as a real `datasets.Dataset` folder (save_to_disk), as the pipeline writes it."""
    import datasets

    path = tmp_path_factory.mktemp("verified") / "verified"
    datasets.Dataset.from_list(fixture_rows).save_to_disk(str(path))
    return path


@pytest.fixture(scope="session")
def train_python() -> Path:
    """The LLaMA-Factory interpreter; skipped locally when missing, a failure in CI (which builds it)."""
    python = find_train_python(required=False)
    if python is None:
        reason = "LLaMA-Factory environment (.venv-train) missing: build it with `make train-env`"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must build it before the tests)")
        pytest.skip(reason)
    return python


@pytest.fixture(scope="session")
def tiny_model(train_python) -> Path:
    """The shared tiny Qwen2 model, built once and cached under .cache/tiny-model/ (hash-checked)."""
    info = last_json(
        run_train_python(
            train_python,
            "-m",
            "thoughtmill.training.tiny_model",
            str(TINY_MODEL_DIR),
            "--corpus",
            str(FIXTURE),
        )
    )
    return Path(info["path"])


def run_train_python(train_python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the train environment's python from the repo root; fail the test on a non-zero exit."""
    proc = subprocess.run(
        [str(train_python), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=subprocess_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"{args[:2]} failed in the train environment:\n{proc.stderr[-3000:]}"
    return proc


def last_json(proc: subprocess.CompletedProcess[str]) -> dict:
    """The JSON object a helper script prints as its last line."""
    return json.loads(proc.stdout.strip().splitlines()[-1])
