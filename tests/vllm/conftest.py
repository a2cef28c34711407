"""Fixtures for the real-vLLM tests: the vLLM interpreter, the shared tiny model, one server per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import REPO_ROOT, VLLMServer, build_tiny_model, find_vllm_python, missing_message

DATA = REPO_ROOT / "tests" / "data" / "vllm"


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The vLLM interpreter; skipped locally when missing, a failure in CI (which builds it)."""
    try:
        python = find_vllm_python()
    except FileNotFoundError as exc:  # a wrong override is a mistake to fix, not a reason to skip
        pytest.fail(str(exc))
    if python is None:
        if os.environ.get("CI"):
            pytest.fail(missing_message() + " (CI must run `make vllm-env` before the tests)")
        pytest.skip(missing_message())
    return python


@pytest.fixture(scope="session")
def tiny_model(vllm_python: Path) -> Path:
    """training.tiny_model's build (head_dim 32, vocab == len(tokenizer)), cached under .cache/."""
    return build_tiny_model(vllm_python)


@pytest.fixture(scope="session")
def vllm_server(
    vllm_python: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VLLMServer]:
    """One real OpenAI-compatible vLLM server for the session, stopped by its PID at the end."""
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    server = VLLMServer(vllm_python, tiny_model, log_path=log)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def data_dir() -> Path:
    return DATA
