"""Offline vLLM: the chat template comes from the model's tokenizer, sampling is per request.

``tensor_parallel_size`` splits one model over GPUs; ``data_parallel_size`` > 1 runs that many
independent engines in child processes, each on its own slice of the visible GPUs, and deals the
requests out round-robin. Requests are sent in chunks so that an interrupted run keeps what finished.
vllm is imported lazily (in the child, for data parallelism).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from typing import Any

from thoughtmill.eval.errors import BackendError, missing_dependency
from thoughtmill.eval.types import Generation, GenerationRequest


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise missing_dependency("vllm", "vllm", "the vllm eval backend") from exc
    return vllm


def _generate_chunk(llm: Any, requests: Sequence[GenerationRequest]) -> list[Generation]:
    vllm = _import_vllm()
    tokenizer = llm.get_tokenizer()
    prompts = [
        tokenizer.apply_chat_template(list(r.messages), tokenize=False, add_generation_prompt=True)
        for r in requests
    ]
    params = [
        vllm.SamplingParams(
            temperature=r.sampling.temperature,
            top_p=r.sampling.top_p,
            max_tokens=r.sampling.max_new_tokens,
            seed=r.sampling.seed,
        )
        for r in requests
    ]
    outputs = llm.generate(prompts, params, use_tqdm=True)
    generations = []
    for out in outputs:
        completion = out.outputs[0]
        generations.append(
            Generation(
                content=completion.text,
                finish_reason=completion.finish_reason,
                prompt_tokens=len(out.prompt_token_ids or []),
                completion_tokens=len(completion.token_ids or []),
            )
        )
    return generations


def _worker(
    rank: int,
    gpus: list[str],
    engine_args: dict[str, Any],
    requests: list[GenerationRequest],
    chunk: int,
    queue: Any,
) -> None:
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    try:
        llm = _import_vllm().LLM(**engine_args)
        for start in range(0, len(requests), chunk):
            part = requests[start : start + chunk]
            queue.put(("ok", list(zip(part, _generate_chunk(llm, part), strict=True))))
    except Exception as exc:  # report to the parent, which raises with the rank named
        queue.put(("error", f"data-parallel rank {rank}: {type(exc).__name__}: {exc}"))
    queue.put(("done", rank))


class VLLMModel:
    """A local checkpoint served by vLLM in this process (or in ``data_parallel_size`` children)."""

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        chunk_size: int = 4096,
        name: str | None = None,
        **engine_kwargs: Any,
    ) -> None:
        if tensor_parallel_size < 1 or data_parallel_size < 1:
            raise BackendError("tensor_parallel_size and data_parallel_size must be at least 1")
        self.model = model
        self.name = name or model
        self.tp = tensor_parallel_size
        self.dp = data_parallel_size
        self.chunk = chunk_size
        self.engine_args = {"model": model, "tensor_parallel_size": tensor_parallel_size, **engine_kwargs}
        self._llm: Any = None

    def describe(self) -> dict[str, Any]:
        return {"backend": "vllm", **self.engine_args, "data_parallel_size": self.dp}

    def _local(self) -> Any:
        if self._llm is None:
            self._llm = _import_vllm().LLM(**self.engine_args)
        return self._llm

    def generate(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[GenerationRequest, Generation]]:
        requests = list(requests)
        if not requests:
            return
        if self.dp == 1:
            for start in range(0, len(requests), self.chunk):
                part = requests[start : start + self.chunk]
                yield from zip(part, _generate_chunk(self._local(), part), strict=True)
            return
        yield from self._data_parallel(requests)

    def _gpu_slices(self) -> list[list[str]]:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible:
            gpus = [g for g in visible.split(",") if g.strip()]
        else:
            import torch

            gpus = [str(i) for i in range(torch.cuda.device_count())]
        need = self.tp * self.dp
        if len(gpus) < need:
            raise BackendError(
                f"data_parallel_size={self.dp} x tensor_parallel_size={self.tp} needs {need} GPUs, "
                f"found {len(gpus)}"
            )
        return [gpus[i * self.tp : (i + 1) * self.tp] for i in range(self.dp)]

    def _data_parallel(
        self, requests: list[GenerationRequest]
    ) -> Iterator[tuple[GenerationRequest, Generation]]:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        procs = [
            ctx.Process(
                target=_worker,
                args=(rank, gpus, self.engine_args, requests[rank :: self.dp], self.chunk, queue),
            )
            for rank, gpus in enumerate(self._gpu_slices())
        ]
        for proc in procs:
            proc.start()
        finished, errors = 0, []
        try:
            while finished < len(procs):
                kind, payload = queue.get()
                if kind == "ok":
                    yield from payload
                elif kind == "error":
                    errors.append(payload)
                else:
                    finished += 1
        finally:
            for proc in procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.terminate()
        if errors:
            raise BackendError("; ".join(errors))
