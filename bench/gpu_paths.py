"""The three vLLM paths of tests/vllm, at benchmark sizes, with figures: run by bench/gpu_check.sh.

    PY bench/gpu_paths.py server  --model DIR --out DIR [--device cuda] [--n 512 --max-tokens 256]
    PY bench/gpu_paths.py offline --model DIR --out DIR ...
    PY bench/gpu_paths.py eval    --model DIR --out DIR ...

PY is a Python with vllm (and this project) installed. Each path is its own process so GPU memory
is freed between them; each prints one JSON line of figures and checks (cache hits, resume after a
server kill, seeded repeatability, re-scoring). ``--device cpu`` runs the same code with CPU settings
and small sizes, which is how this script was checked on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thoughtmill.curation.engine import LLM, TeacherConfig  # noqa: E402
from thoughtmill.curation.engine.request import Response  # noqa: E402

from tests.vllm.harness import VLLMServer, vllm_env  # noqa: E402

SUCCESS = "vllm:request_success_total"
AIME_FIXTURE = ROOT / "tests" / "data" / "eval" / "aime24.jsonl"


class Noise(LLM):
    """Keeps what a benchmark needs from each answer; the text itself is not judged."""

    def prompt(self, row: dict[str, Any]) -> str:
        return row["problem"]

    def generation_params(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"seed": row["id"]}

    def parse(self, row: dict[str, Any], response: Response) -> dict[str, Any]:
        return {
            "id": row["id"],
            "content": response.content,
            "finish_reason": response.finish_reason,
            "completion_tokens": response.usage.completion_tokens,
        }


def rows(n: int, tag: str) -> list[dict[str, Any]]:
    return [
        {"id": i, "problem": f"[{tag}] Problem {i}: how many primes are below {50 + i}? Explain."}
        for i in range(n)
    ]


def engine_kwargs(device: str, max_model_len: int) -> dict[str, Any]:
    if device == "cpu":
        return {"dtype": "float32", "max_model_len": max_model_len, "enforce_eager": True, "seed": 0}
    return {"dtype": "auto", "max_model_len": max_model_len, "gpu_memory_utilization": 0.85, "seed": 0}


def server_args(device: str, max_model_len: int) -> list[str]:
    args = ["--max-model-len", str(max_model_len)]
    if device == "cpu":
        return [*args, "--dtype", "float32", "--enforce-eager", "--distributed-executor-backend", "uni"]
    return [*args, "--dtype", "auto", "--gpu-memory-utilization", "0.85"]


def rates(summary: dict[str, Any], wall: float) -> dict[str, float]:
    return {
        "wall_s": round(wall, 2),
        "requests_per_s": round(summary["requests_ok"] / wall, 2),
        "completion_tokens_per_s": round(summary["completion_tokens"] / wall, 1),
    }


def run_llm(llm: LLM, data: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any], float]:
    started = time.perf_counter()
    out = llm(data).to_list()
    wall = time.perf_counter() - started
    assert llm.last_run is not None
    return out, json.loads(llm.last_run.paths.summary.read_text()), wall


def path_server(a: argparse.Namespace) -> dict[str, Any]:
    """The engine's OpenAI backend against a real server: throughput, cache hits, kill + restart."""
    server = VLLMServer(
        Path(sys.executable),
        Path(a.model),
        log_path=a.out / "server.log",
        extra_args=server_args(a.device, a.max_model_len),
        env=vllm_env(extra={"VLLM_ENABLE_V1_MULTIPROCESSING": "1"}),
    )
    teacher = TeacherConfig.from_dict(
        {
            "provider": "openai",
            "model": server.served_name,
            "base_urls": [server.base_url],
            "generation": {"temperature": 0.8, "max_tokens": a.max_tokens},
            "max_concurrency": a.concurrency,
            "timeout_s": 600,
            "connect_timeout_s": 5,
            "retry": {"max_attempts": 600, "backoff_initial_s": 0.2, "backoff_max_s": 1.0},
        }
    )
    server.start()
    try:
        ready_s = server.wait_ready(timeout=900)
        out, summary, wall = run_llm(
            Noise(teacher, working_dir=a.out / "server-a", progress=False), rows(a.n, "s")
        )
        assert len(out) == a.n and summary["failures"] == 0, summary
        _, cached, cached_wall = run_llm(
            Noise(teacher, working_dir=a.out / "server-a", progress=False), rows(a.n, "s")
        )
        assert cached["cache_hits"] == a.n and cached["requests_sent"] == 0, cached

        llm = Noise(teacher, working_dir=a.out / "server-kill", progress=False)
        box: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: box.update(out=llm(rows(a.n, "k")).to_list()))
        before = server.metric(SUCCESS)
        worker.start()
        while server.metric(SUCCESS) - before < max(1, a.n // 10) and worker.is_alive():
            time.sleep(0.05)
        server.kill()
        killed_mid_run = worker.is_alive()
        server.start()
        restart_s = server.wait_ready(timeout=900)
        worker.join()
        after = server.metric(SUCCESS)  # a fresh server: what it answered after the restart
        resumed = len(box.get("out", [])) == a.n and after > 0
    finally:
        server.stop()
    return {
        "path": "openai-server",
        "ready_s": round(ready_s, 1),
        **rates(summary, wall),
        "cached_rerun_s": round(cached_wall, 2),
        "restart_s": round(restart_s, 1),
        "killed_mid_run": killed_mid_run,
        "resumed_complete": resumed,
        "served_after_restart": after,
    }


def path_offline(a: argparse.Namespace) -> dict[str, Any]:
    """The engine's offline backend: a cold run (model load included), then warm, then repeatable."""
    from thoughtmill.curation.engine.backends.vllm_offline import VLLMOfflineBackend

    teacher = TeacherConfig.from_dict(
        {
            "provider": "vllm",
            "model": a.model,
            "vllm": engine_kwargs(a.device, a.max_model_len),
            "generation": {"temperature": 0.8, "max_tokens": a.max_tokens},
            "max_concurrency": a.n,  # all rows in flight: vLLM batches them itself
        }
    )
    backend = VLLMOfflineBackend(teacher, batch_size=a.n)  # one engine, reused by both runs
    data = rows(a.n, "o")
    first, _, cold = run_llm(
        Noise(teacher, working_dir=a.out / "off-a", progress=False, backend=backend), data
    )
    second, summary, wall = run_llm(
        Noise(teacher, working_dir=a.out / "off-b", progress=False, backend=backend), data
    )
    return {
        "path": "offline-engine",
        "cold_wall_s": round(cold, 2),
        **rates(summary, wall),
        "repeatable": first == second,
        "rows": len(second),
    }


async def load(backend: Any) -> None:
    """Start (load the model) and close: an offline backend keeps its model for the next run."""
    await backend.start()
    await backend.close()


def path_eval(a: argparse.Namespace) -> dict[str, Any]:
    """The evaluator's vLLM backend on AIME-style questions; re-scoring must give the same numbers."""
    from thoughtmill.eval.backends import make_model
    from thoughtmill.eval.runner import evaluate, rescore

    model = make_model(
        "vllm",
        a.model,
        name="bench-model",
        working_dir=a.out / "eval-engine",
        progress=False,
        vllm=engine_kwargs(a.device, a.max_model_len),
    )
    fixture = a.out / "aime_bench.jsonl"  # the fixture's questions, cycled to n generations in all
    base = [json.loads(line) for line in a.fixture.read_text().splitlines() if line.strip()]
    questions = max(1, a.n // a.repeats)
    fixture.write_text("".join(json.dumps({**base[i % len(base)], "id": i}) + "\n" for i in range(questions)))
    load_started = time.perf_counter()
    asyncio.run(load(model.backend))  # load the engine first, so the figures measure generation
    load_s = time.perf_counter() - load_started
    started = time.perf_counter()
    results, _ = evaluate(
        model,
        ["AIME24"],
        output=a.out / "eval",
        data_paths={"AIME24": str(fixture)},
        per_task_options={"AIME24": {"repeats": a.repeats, "max_new_tokens": a.max_tokens}},
    )
    wall = time.perf_counter() - started
    assert results is not None
    lines = [
        json.loads(line)
        for p in (a.out / "eval" / "bench-model" / "generations" / "AIME24").glob("generations*.jsonl")
        for line in p.read_text().splitlines()
        if line.strip()
    ]
    tokens = sum(r["completion_tokens"] for r in lines)
    again, _ = rescore(a.out / "eval" / "bench-model")
    return {
        "path": "eval-vllm",
        "load_s": round(load_s, 1),
        "wall_s": round(wall, 2),
        "generations": len(lines),
        "requests_per_s": round(len(lines) / wall, 2),
        "completion_tokens_per_s": round(tokens / wall, 1),
        "accuracy_avg": results["results"]["AIME24"]["accuracy_avg"],
        "rescore_identical": json.loads(json.dumps(again["results"]))
        == json.loads(json.dumps(results["results"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", choices=["server", "offline", "eval"])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--n", type=int, default=512, help="prompts per engine run")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=8, help="eval: samples per question")
    parser.add_argument("--fixture", type=Path, default=AIME_FIXTURE)
    parser.add_argument("--figures", type=Path, help="append the JSON line here too (vLLM logs to stdout)")
    a = parser.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    figures = {"server": path_server, "offline": path_offline, "eval": path_eval}[a.path](a)
    line = json.dumps({"device": a.device, "model": a.model, "n": a.n, "max_tokens": a.max_tokens, **figures})
    print(line, flush=True)
    if a.figures:
        with a.figures.open("a") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
