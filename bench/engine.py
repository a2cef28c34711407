"""Engine benchmarks: throughput vs a bare aiohttp loop (and Curator), latency-bound concurrency,
fully cached re-runs, memory growth with rows, and SIGKILL resume — all in one run, as ratios.

    .venv/bin/python bench/engine.py            # the full sizes of issue 2
    .venv/bin/python bench/engine.py --quick    # a smoke run at a tenth of the sizes

The fake teacher runs in its own process (the other core), so client and server don't share a GIL.
Each engine measurement runs in a fresh subprocess so peak RSS is that run's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._memory import RssSampler, max_rss_mb  # noqa: E402
from bench._spread import describe_load, describe_ratio, machine_load, paired_ratios  # noqa: E402
from tests.support.fake_teacher import (  # noqa: E402
    fetch_stats,
    reset_teacher,
    start_fake_teacher_process,
    stop_fake_teacher_process,
)

CONCURRENCY = 64


def window_for(concurrency: int) -> int:
    """The in-flight window the bench gives the engine (its default: twice the concurrency)."""
    return 2 * concurrency


# On a 2-core machine the teacher gets one core and every client (bare loop, engine, Curator) the
# other: each side is measured on the same single core, and other work on the machine disturbs less.
SERVER_CPU, CLIENT_CPU = 1, 0


def prompts(n: int, tag: str = "") -> list[str]:
    return [f"Bench problem {tag}{i}: compute the sum of the first {i} odd numbers." for i in range(n)]


# ---------------------------------------------------------------------------------------------- baseline
async def bare_loop(base_url: str, n: int, concurrency: int) -> float:
    """The floor: one aiohttp session, `concurrency` workers, no cache, no output. Returns req/s."""
    import aiohttp

    texts = prompts(n, "bare-")
    counter = iter(range(n))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for i in counter:
                body = {
                    "model": "fake",
                    "messages": [{"role": "user", "content": texts[i]}],
                    "temperature": 0.7,
                }
                async with session.post(f"{base_url}/chat/completions", json=body) as resp:
                    data = json.loads(await resp.read())
                    assert data["choices"][0]["message"]["content"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------- engine job
def engine_job(args: list[str]) -> None:
    """Runs inside a subprocess: one engine run; prints a JSON line with its measurements."""

    from thoughtmill.curation.engine import LLM, TeacherConfig

    base_url, work, n, concurrency, tag = args[0], args[1], int(args[2]), int(args[3]), args[4]

    class Solve(LLM):
        def prompt(self, row):
            return row["problem"]

        def parse(self, row, response):
            return {"id": row["id"], "answer": response.content}

    teacher = TeacherConfig.from_dict(
        {
            "provider": "openai",
            "model": "fake",
            "base_urls": [base_url],
            "max_concurrency": concurrency,
            "generation": {"temperature": 0.7},
            "retry": {"backoff_initial_s": 0.05, "backoff_max_s": 0.5},
        }
    )
    texts = prompts(n, tag)
    rows = ({"id": i, "problem": texts[i]} for i in range(n))
    llm = Solve(teacher, working_dir=work, progress=False, max_in_flight=window_for(concurrency))
    sampler = RssSampler()
    started = time.perf_counter()
    cpu0 = time.process_time()
    out = llm(rows)
    cpu_s = time.process_time() - cpu0
    elapsed = time.perf_counter() - started
    sampler.stop()
    stats = llm.stats
    print(
        json.dumps(
            {
                "rows": len(out),
                "elapsed_s": elapsed,
                "rows_per_s": n / elapsed,
                "cpu_us_per_row": cpu_s / n * 1e6,
                "requests_sent": stats["requests_sent"],
                "cache_hits": stats["cache_hits"],
                "peak_rss_mb": max_rss_mb(),
                "peak_anon_rss_mb": sampler.peak_anon_mb,
                "peak_file_rss_mb": sampler.peak_file_mb,
            }
        ),
        flush=True,
    )


def run_engine(base_url: str, work: Path, n: int, concurrency: int, tag: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--job", base_url, str(work), str(n), str(concurrency), tag],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"engine job failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def start_engine(base_url: str, work: Path, n: int, concurrency: int, tag: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--job", base_url, str(work), str(n), str(concurrency), tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# ---------------------------------------------------------------------------------------------- curator
CURATOR_JOB = r"""
import json, sys, time
# No internet here: tiktoken cannot download its BPE files. Curator only uses them to estimate tokens
# for its tokens/min limiter, which this bench sets out of reach, so a byte-level encoding built
# locally stands in (it over-counts tokens; nothing else changes).
import tiktoken, tiktoken.registry
_bytes = tiktoken.Encoding(name="bytes", pat_str=r"\S+|\s+", mergeable_ranks={bytes([i]): i for i in range(256)},
                           special_tokens={"<|endoftext|>": 256})
tiktoken.get_encoding = tiktoken.registry.get_encoding = lambda name: _bytes
tiktoken.encoding_for_model = lambda model: _bytes
from bespokelabs import curator
base_url, n, concurrency, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
class Solve(curator.LLM):
    def prompt(self, row):
        return row["problem"]
    def parse(self, row, response):
        return {"id": row["id"], "answer": response}
llm = Solve(model_name="gpt-4o-mini", backend="openai",
            backend_params={"base_url": base_url, "api_key": "sk-bench", "max_requests_per_minute": 10**7,
                            "max_tokens_per_minute": 10**10, "max_concurrent_requests": concurrency,
                            "require_all_responses": False},
            generation_params={"temperature": 0.7})
rows = [{"id": i, "problem": f"Bench problem {tag}{i}: compute the sum of the first {i} odd numbers."} for i in range(n)]
started = time.perf_counter()
out = llm(rows)
elapsed = time.perf_counter() - started
print(json.dumps({"rows": len(out.dataset) if hasattr(out, "dataset") else len(out), "elapsed_s": elapsed, "rows_per_s": n / elapsed}))
"""


def run_curator(base_url: str, n: int, concurrency: int, tag: str) -> dict | None:
    python = ROOT / ".venv-bench" / "bin" / "python"
    if not python.exists():
        return None
    with tempfile.TemporaryDirectory() as cache:
        env = {
            **os.environ,
            "CURATOR_CACHE_DIR": cache,
            "CURATOR_DISABLE_RICH_DISPLAY": "1",
            "CURATOR_DISABLE_CACHE": "0",
            "OPENAI_API_KEY": "sk-bench",
            "HF_DATASETS_OFFLINE": "1",
        }
        proc = subprocess.run(
            [str(python), "-c", CURATOR_JOB, base_url, str(n), str(concurrency), tag],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=3600,
        )
    if proc.returncode != 0:
        print(f"curator run failed (rc {proc.returncode}): {proc.stderr[-1500:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- scenarios
def throughput(n: int, work: Path, rounds: int = 5) -> dict:
    """Bare loop and engine alternately, ``rounds`` times each.

    The headline is the median of the per-round ratios (each engine round against the bare round just
    before it), reported with its range and the machine's load; the best of each side is kept too.
    """
    load_before = machine_load()
    proc, base_url = start_fake_teacher_process(cpu=SERVER_CPU, answer_bytes=2048, latency_ms=0)
    bare_runs: list[float] = []
    engine_runs: list[float] = []
    bare_cpu: list[float] = []
    engine_cpu: list[float] = []
    try:
        for r in range(rounds):
            cpu = time.process_time()
            bare_runs.append(asyncio.run(bare_loop(base_url, n, CONCURRENCY)))
            bare_cpu.append((time.process_time() - cpu) / n * 1e6)
            reset_teacher(base_url)
            engine = run_engine(base_url, work / f"throughput-{r}", n, CONCURRENCY, f"thr{r}-")
            engine_runs.append(engine["rows_per_s"])
            engine_cpu.append(engine["cpu_us_per_row"])
            reset_teacher(base_url)
        curator = run_curator(base_url, n, CONCURRENCY, "cur-")
    finally:
        stop_fake_teacher_process(proc)
    bare, best = max(bare_runs), max(engine_runs)
    result = {
        "n": n,
        "rounds": rounds,
        "bare_req_per_s_runs": bare_runs,
        "engine_rows_per_s_runs": engine_runs,
        "bare_req_per_s": bare,
        "engine_rows_per_s": best,
        "engine_vs_bare_best": best / bare,
        "engine_vs_bare": paired_ratios(engine_runs, bare_runs),
        "load_before": load_before,
        "load_after": machine_load(),
        # client CPU per row (the client is CPU-bound on its core): where the difference comes from
        "bare_cpu_us_per_req_median": statistics.median(bare_cpu),
        "engine_cpu_us_per_row_median": statistics.median(engine_cpu),
    }
    if curator:
        result["curator_rows_per_s"] = curator["rows_per_s"]
        result["engine_vs_curator"] = statistics.median(engine_runs) / curator["rows_per_s"]
    return result


def latency_bound(n: int, work: Path) -> dict:
    proc, base_url = start_fake_teacher_process(cpu=SERVER_CPU, answer_bytes=2048, latency_ms=200)
    try:
        engine = run_engine(base_url, work / "latency", n, 200, "lat-")
    finally:
        stop_fake_teacher_process(proc)
    ideal = 200 / 0.2
    return {
        "n": n,
        "concurrency": 200,
        "latency_ms": 200,
        "engine_rows_per_s": engine["rows_per_s"],
        "ideal_req_per_s": ideal,
        "fraction_of_ideal": engine["rows_per_s"] / ideal,
    }


def memory_and_cached(small: int, large: int, work: Path) -> dict:
    proc, base_url = start_fake_teacher_process(cpu=SERVER_CPU, answer_bytes=2048, latency_ms=0)
    try:
        first_small = run_engine(base_url, work / "mem-small", small, CONCURRENCY, "mem-")
        first_large = run_engine(base_url, work / "mem-large", large, CONCURRENCY, "mem-")
        before = fetch_stats(base_url, brief=True)["requests"]
        cached = run_engine(base_url, work / "mem-large", large, CONCURRENCY, "mem-")
        sent = fetch_stats(base_url, brief=True)["requests"] - before
    finally:
        stop_fake_teacher_process(proc)
    return {
        "small_rows": small,
        "large_rows": large,
        "peak_rss_small_mb": first_small["peak_rss_mb"],
        "peak_rss_large_mb": first_large["peak_rss_mb"],
        "rss_growth": first_large["peak_rss_mb"] / first_small["peak_rss_mb"] - 1,
        "peak_anon_small_mb": first_small["peak_anon_rss_mb"],
        "peak_anon_large_mb": first_large["peak_anon_rss_mb"],
        "anon_growth": first_large["peak_anon_rss_mb"] / first_small["peak_anon_rss_mb"] - 1,
        "peak_file_small_mb": first_small["peak_file_rss_mb"],
        "peak_file_large_mb": first_large["peak_file_rss_mb"],
        "cached_rerun_rows_per_s": cached["rows_per_s"],
        "cached_rerun_requests_sent": sent,
        "cached_rerun_peak_rss_mb": cached["peak_rss_mb"],
    }


def kills(n: int, n_kills: int, work: Path, seed: int = 0) -> dict:
    import datasets

    proc, base_url = start_fake_teacher_process(cpu=SERVER_CPU, answer_bytes=2048, latency_ms=0)
    rng = random.Random(seed)
    job_dir = work / "kills"
    window = window_for(CONCURRENCY)  # the engine's in-flight window: its bound on re-sends per kill
    try:
        for _ in range(n_kills):
            before = fetch_stats(base_url, brief=True)["requests"]
            target = before + rng.randint(n // (2 * n_kills) // 2, n // (2 * n_kills))
            job = start_engine(base_url, job_dir, n, CONCURRENCY, "kill-")
            while fetch_stats(base_url, brief=True)["requests"] < target and job.poll() is None:
                time.sleep(0.01)
            job.send_signal(signal.SIGKILL)
            job.wait()
        final = run_engine(base_url, job_dir, n, CONCURRENCY, "kill-")
        stats = fetch_stats(base_url)
    finally:
        stop_fake_teacher_process(proc)
    out = datasets.load_from_disk(str(job_dir / "runs" / "Solve" / "dataset"))
    ids = out["id"]
    resent = sum(c - 1 for c in stats["per_hash"].values())
    return {
        "n": n,
        "kills": n_kills,
        "rows": final["rows"],
        "rows_lost": n - len(set(ids)),
        "duplicate_rows": len(ids) - len(set(ids)),
        "requests_resent": resent,
        "max_allowed_resent": window * n_kills,
        "in_order": ids == list(range(n)),
    }


def pin_clients() -> None:
    """Pin this process (and so the engine and Curator subprocesses it starts) to the client core."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {CLIENT_CPU})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--only", choices=["throughput", "latency", "memory", "kills"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    pin_clients()
    work = Path(tempfile.mkdtemp(prefix="thoughtmill-bench-"))
    results: dict = {}
    try:
        if args.only in (None, "throughput"):
            results["throughput"] = throughput(20_000 // scale, work)
            print(json.dumps({"throughput": results["throughput"]}), flush=True)
        if args.only in (None, "latency"):
            results["latency"] = latency_bound(2_000 // scale * (2 if scale > 1 else 1), work)
            print(json.dumps({"latency": results["latency"]}), flush=True)
        if args.only in (None, "memory"):
            results["memory"] = memory_and_cached(20_000 // scale, 100_000 // scale, work)
            print(json.dumps({"memory": results["memory"]}), flush=True)
        if args.only in (None, "kills"):
            results["kills"] = kills(20_000 // scale, 3, work)
            print(json.dumps({"kills": results["kills"]}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    report(results)


def report(results: dict) -> None:
    lines = []
    if t := results.get("throughput"):
        lines.append(describe_load(t["load_before"], t["load_after"]))
        lines.append(
            f"throughput ({t['n']} prompts, 2 KB answers, 0 ms): "
            + describe_ratio("engine / bare aiohttp, per round", t["engine_vs_bare"], percent=True)
            + " (target >= 60%)"
        )
        lines.append(
            f"  best rounds: engine {t['engine_rows_per_s']:.0f} rows/s, bare {t['bare_req_per_s']:.0f} req/s "
            f"-> {t['engine_vs_bare_best']:.0%}; engine rounds {min(t['engine_rows_per_s_runs']):.0f}-"
            f"{max(t['engine_rows_per_s_runs']):.0f}, bare rounds {min(t['bare_req_per_s_runs']):.0f}-"
            f"{max(t['bare_req_per_s_runs']):.0f}"
        )
        lines.append(
            f"  client CPU per row (median): engine {t['engine_cpu_us_per_row_median']:.0f} us, "
            f"bare {t['bare_cpu_us_per_req_median']:.0f} us"
        )
        if "engine_vs_curator" in t:
            lines.append(
                f"  vs Curator {t['curator_rows_per_s']:.0f} rows/s -> {t['engine_vs_curator']:.1f}x "
                "(median engine round; target >= 4x)"
            )
    if t := results.get("latency"):
        lines.append(
            f"latency-bound ({t['n']} prompts, 200 ms, concurrency 200): {t['engine_rows_per_s']:.0f} req/s "
            f"-> {t['fraction_of_ideal']:.0%} of ideal 1000 (target >= 90%)"
        )
    if t := results.get("memory"):
        lines.append(
            f"peak RSS (VmHWM) {t['small_rows']} rows {t['peak_rss_small_mb']:.0f} MB, {t['large_rows']} rows "
            f"{t['peak_rss_large_mb']:.0f} MB -> growth {t['rss_growth']:.0%} (target < 25%)"
        )
        lines.append(
            f"  of which anonymous: {t['peak_anon_small_mb']:.0f} MB vs {t['peak_anon_large_mb']:.0f} MB "
            f"(growth {t['anon_growth']:.0%}); file-backed (mapped Arrow, page cache): "
            f"{t['peak_file_small_mb']:.0f} MB vs {t['peak_file_large_mb']:.0f} MB"
        )
        lines.append(
            f"cached re-run of {t['large_rows']} rows: {t['cached_rerun_rows_per_s']:.0f} rows/s, "
            f"{t['cached_rerun_requests_sent']} requests sent (target 0)"
        )
    if t := results.get("kills"):
        lines.append(
            f"{t['kills']} SIGKILLs in {t['n']} rows: lost {t['rows_lost']}, duplicates {t['duplicate_rows']}, "
            f"re-sent {t['requests_resent']} (allowed <= {t['max_allowed_resent']}), in order {t['in_order']}"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--job":
        engine_job(sys.argv[2:])
    else:
        main()
