"""The teacher config ``thoughtmill eval --backend NAME --model MODEL`` starts from.

A model under evaluation is a teacher of any registered provider. For the built-in ones the evaluator
has presets that keep its long-standing behaviour: offline vLLM answers are scored on their whole text
(as Evalchemy does) in large batches, and ``--backend replay`` takes a script of recorded answers as
its ``--model``. Any other provider starts from ``{provider: NAME, model: MODEL}``; the CLI's flags and
``--set KEY=VALUE`` are applied on top, and a teacher YAML (``--teacher-config``) needs no preset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from thoughtmill.curation.engine.config import TeacherConfig, apply_overrides
from thoughtmill.curation.errors import ConfigError
from thoughtmill.eval.data.files import read_records
from thoughtmill.eval.errors import BackendError


def vllm_preset(model: str) -> dict[str, Any]:
    """The engine arguments the evaluator always passed, the whole text as the answer, big batches."""
    return {
        "model": model,
        "vllm": {
            "tensor_parallel_size": 1,
            "dtype": "auto",
            "gpu_memory_utilization": 0.9,
            "trust_remote_code": False,
        },
        "split_think": False,
        "max_concurrency": 4096,
    }


def replay_preset(script: str) -> dict[str, Any]:
    """A JSON Lines script of ``{"match": <substring of the last user message>, "content": ...,
    "seed"?: int, "reasoning_content"?: str, "finish_reason"?: str}`` rows (the fake teacher's format):
    the first row whose ``match`` occurs in the prompt and whose ``seed`` (when given) equals the
    request's answers it; requests nothing matches show up as missing generations."""
    path = Path(script)
    rows = read_records(path)
    for number, row in enumerate(rows, start=1):
        if not isinstance(row.get("match"), str) or not isinstance(row.get("content"), str):
            raise BackendError(f"{path}: row {number} needs string 'match' and 'content' fields")
    columns = {key for row in rows for key in row}
    return {
        "model": path.stem,
        "replay": {
            "path": str(path),
            "key_column": "match",
            "match": "substring",
            "content_column": "content",
            "seed_column": "seed" if "seed" in columns else None,
            "finish_reason_column": "finish_reason" if "finish_reason" in columns else None,
        },
    }


#: provider name -> the teacher mapping its ``--model`` value starts from
PRESETS: dict[str, Callable[[str], dict[str, Any]]] = {"vllm": vllm_preset, "replay": replay_preset}


def eval_teacher(provider: str, model: str, overrides: dict[str, Any] | None = None) -> TeacherConfig:
    """The teacher for ``--backend provider --model model``, with dotted ``overrides`` applied."""
    preset = PRESETS.get(provider)
    data: dict[str, Any] = preset(model) if preset else {"model": model}
    data["provider"] = provider
    try:
        apply_overrides(data, overrides or {})
        return TeacherConfig.from_dict(data, source=f"--backend {provider}")
    except ConfigError as exc:
        raise BackendError(str(exc)) from exc
