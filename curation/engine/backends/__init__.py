"""Teacher backends, chosen by ``TeacherConfig.provider``."""

from __future__ import annotations

from thoughtmill.curation.engine.backends.base import Backend
from thoughtmill.curation.engine.config import TeacherConfig


def make_backend(config: TeacherConfig) -> Backend:
    """Build the backend a teacher config names (heavy ones imported only when chosen)."""
    if config.provider == "openai":
        from thoughtmill.curation.engine.backends.openai_http import OpenAIBackend

        return OpenAIBackend(config)
    if config.provider == "replay":
        from thoughtmill.curation.engine.backends.replay import ReplayBackend

        return ReplayBackend(config)
    if config.provider == "vllm":
        from thoughtmill.curation.engine.backends.vllm_offline import VLLMOfflineBackend

        return VLLMOfflineBackend(config)
    raise ValueError(f"unknown provider {config.provider!r}")


__all__ = ["Backend", "make_backend"]
