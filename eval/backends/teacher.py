"""A model under evaluation reached as a teacher, through thoughtmill's engine (cached, resumable).

Any registered provider works: an OpenAI-compatible server, offline vLLM, a replay of recorded
answers, or one registered by your own code. Each request becomes one engine row; its seed,
temperature, top_p and token budget go through ``generation_params`` so every repeat is a distinct,
cached call. Re-running after an interruption replays finished calls from the engine's cache in
``working_dir``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thoughtmill.curation.engine.backends import Backend
from thoughtmill.curation.engine.llm import LLM
from thoughtmill.curation.engine.providers import make_backend
from thoughtmill.eval.outputs import request_hash
from thoughtmill.eval.types import Generation, GenerationRequest

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig


def _usage(usage: Any, name: str) -> int | None:
    if usage is None:
        return None
    value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
    return int(value) if value is not None else None


class EvalGeneration(LLM):
    """Messages and sampling come ready-made in the row; the answer is kept verbatim."""

    def prompt(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return json.loads(row["messages"])

    def generation_params(self, row: dict[str, Any]) -> dict[str, Any]:
        params = {
            "temperature": row["temperature"],
            "top_p": row["top_p"],
            "max_tokens": row["max_tokens"],
        }
        if row["seed"] is not None:
            params["seed"] = row["seed"]
        return params

    def parse(self, row: dict[str, Any], response: Any) -> dict[str, Any]:
        usage = getattr(response, "usage", None)
        return {
            "key": row["key"],
            "content": response.content or "",
            "reasoning_content": getattr(response, "reasoning_content", None),
            "finish_reason": getattr(response, "finish_reason", None),
            "prompt_tokens": _usage(usage, "prompt_tokens"),
            "completion_tokens": _usage(usage, "completion_tokens"),
        }


class TeacherModel:
    """A model behind the engine; ``config`` is a ``curation.TeacherConfig`` of any provider."""

    def __init__(
        self, config: TeacherConfig, working_dir: str | Path, name: str | None = None, progress: bool = True
    ) -> None:
        self.config = config
        self.working_dir = Path(working_dir)
        self.name = name or config.model
        self.progress = progress
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        """One backend for every task of a run, so an offline model is loaded once, not per task."""
        if self._backend is None:
            self._backend = make_backend(self.config)
        return self._backend

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.config.provider,
            "model": self.config.model,
            **self.config.settings.describe(),
            "max_concurrency": self.config.max_concurrency,
            "requests_per_minute": self.config.requests_per_minute,
        }

    def _generator(self, run_name: str) -> EvalGeneration:
        return EvalGeneration(
            self.config,
            working_dir=self.working_dir,
            name=run_name,
            progress=self.progress,
            backend=self.backend,
        )

    def generate(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[GenerationRequest, Generation]]:
        if not requests:
            return
        rows = [
            {
                "key": r.key,
                "messages": json.dumps(list(r.messages), ensure_ascii=False),
                "seed": r.sampling.seed,
                "temperature": r.sampling.temperature,
                "top_p": r.sampling.top_p,
                "max_tokens": r.sampling.max_new_tokens,
            }
            for r in requests
        ]
        # one engine run folder per distinct request set; the response cache is shared by all of them
        run_name = (
            "eval-"
            + hashlib.sha256("\n".join(r.key + request_hash(r) for r in requests).encode()).hexdigest()[:12]
        )
        dataset = self._generator(run_name)(rows)
        by_key = {}
        for row in dataset:
            if row.get("key") is not None and row.get("content") is not None:
                by_key[row["key"]] = row
        for request in requests:
            row = by_key.get(request.key)
            if row is None:
                continue  # failed after retries: left for the next run, reported as missing
            yield (
                request,
                Generation(
                    content=row["content"],
                    reasoning_content=row.get("reasoning_content"),
                    finish_reason=row.get("finish_reason"),
                    prompt_tokens=row.get("prompt_tokens"),
                    completion_tokens=row.get("completion_tokens"),
                ),
            )
