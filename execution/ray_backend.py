"""Ray backend: the same judging on a Ray cluster (an actor pool, one judge per CPU, chunks per task).

Ray is imported lazily; ``pip install 'thoughtmill[ray]'`` (or ``pip install ray``) provides it. Each
actor is a long-lived judge process that probes the host's isolation layer once and then judges
chunks of solutions sequentially, each in its own sandbox; the driver keeps at most two chunks in
flight per actor, so items are consumed lazily as in the local backend.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from thoughtmill.execution.errors import ExecutionError
from thoughtmill.execution.types import Limits, Status, Verdict


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ExecutionError(
            "the Ray backend needs ray: pip install 'thoughtmill[ray]' (or pip install ray)"
        ) from exc
    return ray


class _Judge:
    """Actor body: one per CPU; judges chunks in its own process."""

    def __init__(self) -> None:
        from thoughtmill.execution import sandbox as sb

        sb.become_subreaper()
        self.report = sb.sandbox_report()

    def layer(self) -> dict[str, Any]:
        return self.report

    def judge_chunk(
        self, chunk: list[tuple[int, str, Any]], limits: dict[str, Any], mode: str
    ) -> list[tuple[int, dict]]:
        from thoughtmill.execution.pool import judge_chunk

        return judge_chunk(chunk, limits, mode)


def run_batch_ray(
    items: Iterable[tuple[Hashable, str, Any]],
    limits: Limits,
    *,
    workers: int | None = None,
    mode: str = "strict",
    chunk_size: int = 8,
    address: str | None = None,
    per_actor_inflight: int = 2,
) -> Iterator[tuple[Hashable, Verdict]]:
    """Judge items on Ray; yields (id, Verdict) in completion order (same verdicts as the local backend)."""
    ray = _import_ray()
    from thoughtmill.execution.pool import _chunks

    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    n_actors = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    actor_cls = ray.remote(num_cpus=1)(_Judge)
    actors = [actor_cls.remote() for _ in range(n_actors)]
    ids: dict[int, Hashable] = {}
    source = _chunks(items, max(1, chunk_size), ids)
    lim = limits.to_dict()
    inflight: dict[Any, tuple[Any, list]] = {}
    exhausted = False
    try:
        while True:
            if not exhausted:
                for actor in actors:
                    load = sum(1 for a, _ in inflight.values() if a is actor)
                    while load < per_actor_inflight:
                        chunk = next(source, None)
                        if chunk is None:
                            exhausted = True
                            break
                        inflight[actor.judge_chunk.remote(chunk, lim, mode)] = (actor, chunk)
                        load += 1
                    if exhausted:
                        break
            if not inflight:
                return
            ready, _ = ray.wait(list(inflight), num_returns=1)
            for ref in ready:
                actor, chunk = inflight.pop(ref)
                try:
                    results = ray.get(ref)
                except Exception as exc:  # an actor died: its chunk fails, never passes
                    results = [
                        (
                            idx,
                            Verdict(
                                Status.SANDBOX_ERROR, detail=f"ray task failed: {type(exc).__name__}"
                            ).to_dict(),
                        )
                        for idx, _c, _t in chunk
                    ]
                    if actor in actors:
                        actors.remove(actor)
                        actors.append(actor_cls.remote())
                for idx, verdict in results:
                    yield ids.pop(idx), Verdict.from_dict(verdict)
    finally:
        for actor in actors:
            ray.kill(actor)
