"""Model backends for the evaluator: vLLM offline, an OpenAI-compatible server through the engine,
transformers for small local models, and replay of recorded outputs. Heavy libraries load only when a backend is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thoughtmill.eval.backends.base import Model

BACKENDS = ("vllm", "openai", "transformers", "replay")


def make_model(backend: str, model: str, *, working_dir: str | Path | None = None, **options: Any) -> Model:
    """Build the named backend for ``model``. ``openai`` takes ``teacher`` (a TeacherConfig) or
    ``base_urls``/``api_key_env``/... to build one; the others take their own keyword options."""
    if backend == "vllm":
        from thoughtmill.eval.backends.vllm_offline import VLLMModel

        return VLLMModel(model, **options)
    if backend == "transformers":
        from thoughtmill.eval.backends.hf_transformers import TransformersModel

        return TransformersModel(model, **options)
    if backend == "replay":
        from thoughtmill.eval.backends.replay import ReplayModel

        return ReplayModel(model, **options)
    if backend == "openai":
        from thoughtmill.eval.backends.openai_engine import OpenAIModel

        teacher = options.pop("teacher", None)
        name = options.pop("name", None)
        if teacher is None:
            from thoughtmill.curation import TeacherConfig

            teacher = TeacherConfig(provider="openai", model=model, **options)
        return OpenAIModel(teacher, working_dir=working_dir or Path("eval_cache"), name=name)
    raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Model", "make_model"]
