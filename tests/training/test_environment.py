"""Finding the train environment, and the tiny-model builder's cache key (no heavy imports)."""

from __future__ import annotations

import pytest
from thoughtmill.training import environment
from thoughtmill.training.errors import TrainEnvironmentMissing
from thoughtmill.training.tiny_model import TinySpec, content_hash, default_corpus, is_built


def test_override_must_be_an_interpreter(monkeypatch, tmp_path):
    monkeypatch.setenv(environment.ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(TrainEnvironmentMissing, match=r"THOUGHTMILL_TRAIN_PYTHON=.*not an executable"):
        environment.find_train_python()


def test_override_wins(monkeypatch, tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv(environment.ENV_VAR, str(fake))
    assert environment.find_train_python() == fake


def test_missing_environment_names_make_target(monkeypatch, tmp_path):
    monkeypatch.delenv(environment.ENV_VAR, raising=False)
    monkeypatch.setattr(environment, "REPO_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(environment.importlib.util, "find_spec", lambda name: None)
    assert environment.find_train_python(required=False) is None
    with pytest.raises(TrainEnvironmentMissing, match="make train-env"):
        environment.find_train_python()


def test_venv_in_cwd_is_found(monkeypatch, tmp_path):
    monkeypatch.delenv(environment.ENV_VAR, raising=False)
    monkeypatch.setattr(environment, "REPO_ROOT", tmp_path / "elsewhere")
    python = tmp_path / ".venv-train" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    python.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert environment.find_train_python() == python


def test_tiny_model_hash_and_shape_checks(tmp_path):
    corpus = default_corpus()
    base = content_hash(TinySpec(), corpus)
    assert base == content_hash(TinySpec(), corpus)
    assert base != content_hash(TinySpec(hidden_size=256), corpus)
    assert base != content_hash(TinySpec(), corpus + "x")
    assert not is_built(tmp_path, base)
    with pytest.raises(ValueError, match="head_dim 16 < 32"):
        TinySpec(hidden_size=64, heads=4).check()
    with pytest.raises(ValueError, match="not divisible"):
        TinySpec(heads=3).check()
