"""Put the Hugging Face Hub out of reach for one test: what a machine without network sees."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub.constants
import pytest


def go_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Offline mode, an empty Hub cache and no DNS: a call that escapes the stand-ins fails, fast.

    A fresh Arrow cache too: ``materialise`` would otherwise reuse an earlier test's file for an
    identical stream, and a stand-in's iterator would not run at all.
    """
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "DNS refused by the test: no network here")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
