"""Model backends for the evaluator.

A model under evaluation is a teacher: any provider registered with the engine (an OpenAI-compatible
server, offline vLLM, a replay of recorded answers, or one your code registers) is reached through
the engine as a ``TeacherModel``. ``transformers`` is the one backend of the evaluator's own: small
checkpoints in this process, batched by seed for reproducible smoke tests (see its module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.engine.providers import provider_names
from thoughtmill.eval.backends.base import Model
from thoughtmill.eval.backends.presets import eval_teacher
from thoughtmill.eval.backends.teacher import TeacherModel
from thoughtmill.eval.errors import BackendError

#: backends that are not teacher providers
LOCAL_BACKENDS = ("transformers",)


def backend_names() -> list[str]:
    """Every name ``--backend`` accepts: the registered providers and the evaluator's own."""
    return [*provider_names(), *LOCAL_BACKENDS]


def make_model(
    backend: str,
    model: str,
    *,
    working_dir: str | Path | None = None,
    name: str | None = None,
    teacher: TeacherConfig | None = None,
    progress: bool = True,
    **options: Any,
) -> Model:
    """Build the model for ``backend``. For a provider, ``options`` are teacher-config keys as a YAML
    has them (dotted for nested ones: ``vllm.max_model_len``), or ``teacher`` is a ready config; the
    engine keeps its cache in ``working_dir``. ``transformers`` takes ``TransformersModel``'s options."""
    if backend not in backend_names():
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(backend_names())}")
    if backend == "transformers":
        from thoughtmill.eval.backends.hf_transformers import TransformersModel

        return TransformersModel(model, name=name, **options)
    if teacher is None:
        teacher = eval_teacher(backend, model, options)
    elif teacher.provider != backend:
        raise BackendError(f"backend {backend!r} given with a teacher of provider {teacher.provider!r}")
    return TeacherModel(teacher, working_dir or Path("eval_cache"), name=name, progress=progress)


__all__ = ["Model", "TeacherModel", "backend_names", "eval_teacher", "make_model"]
