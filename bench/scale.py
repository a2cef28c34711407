"""Benchmark the Ray executor: one node against two, ratios measured in this one run.

    python bench/scale.py                                # 40 code solutions; 400 rows at 1,200 requests/min
    python bench/scale.py --solutions 16 --rows 300      # a quicker run

A local Ray cluster is started here on 127.0.0.1 with one node of 1 CPU; each case runs, a second
1-CPU node joins, each case runs again with the same config (``executor: ray``, ``--shards``), and
the second node leaves; ``--rounds`` times, so the 2-vs-1 ratios are paired per round (median and range):

(a) verify: code solutions that each burn ~0.3 s of CPU per test, judged in the sandbox (one sandbox
    per shard): with two nodes two shards run at once, so throughput should nearly double. The rows
    are split by a stable hash of their ids, which is uneven for a few dozen rows: with 2 shards the
    40 solutions split 24/16, so two nodes could give at most 1.67x. The default is 8 shards (more
    shards than nodes, as datatrove runs more tasks than workers): a node that finishes early takes the
    next shard. The script prints the split and the ceiling it allows;
(b) generate: against a fake teacher answering after 200 ms, with the teacher's requests/min limit
    fixed: the limit is one budget shared by every rank (a Ray actor), so two nodes must give the same
    throughput as one, not twice the limit.

Both nodes live on this machine, so (a) can only show a speed-up when two cores are free; the
figures are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import datasets
from thoughtmill.curation.pipeline.config import config_from_dict
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.execution import sandbox_report

from bench._spread import describe_load, describe_ratio, idle_window, paired_ratios
from tests.support.fake_teacher import FakeTeacher, start_fake_teacher_process, stop_fake_teacher_process

#: the answer of every code problem: ~0.3 s of CPU per test
SOLUTION = "```python\nn = int(input())\nprint(sum(i * i for i in range(n)))\n```"
N = 4_000_000
REFERENCE = "n = int(input())\nprint(sum(i * i for i in range(n)))\n"


def code_source(path: Path, count: int, tests: int) -> Path:
    io = json.dumps({"inputs": [f"{N}\n"] * tests, "outputs": [f"{sum(i * i for i in range(N))}\n"] * tests})
    with open(path, "w", encoding="utf-8") as f:
        for k in range(count):
            question = (
                f"Problem {k}. You are given one integer n on the first line of the input (1 <= n <= 10^7). "
                f"Print the sum of i*i over every integer i with 0 <= i < n. This is instance {k} of the set."
            )
            f.write(json.dumps({"question": question, "solutions": json.dumps([REFERENCE]), "starter_code": "", "input_output": io,
                                "difficulty": "EASY", "source": "bench", "url": f"bench://{k}"}) + "\n")  # fmt: skip
    return path


def math_source(path: Path, count: int) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for k in range(count):
            problem = f"Compute the value of bench item {k:05d}; it is 42."
            f.write(
                json.dumps({"source": "olympiads", "problem": problem, "solution": "$\\boxed{42}$"}) + "\n"
            )
    return path


def teacher(base_url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "fake", "provider": "openai", "model": "fake-r1", "base_urls": [base_url],
            "timeout_s": 60, "retry": {"max_attempts": 3, "backoff_initial_s": 0.05}, **extra}  # fmt: skip


def run(run_dir: Path, address: str, source: dict, gen: dict, until: str, shards: int) -> dict[str, Any]:
    config = config_from_dict(
        {
            "name": "bench-scale",
            "run_dir": str(run_dir),
            "executor": {"name": "ray", "address": address, "shards": shards},
            "stages": {
                "sources": {"sources": [source]},
                "dedup": {"enabled": False},
                "decontaminate": {"enabled": False},
                "generate": {"progress": False, **gen},
                "verify": {"code": {"workers": 1, "time_s": 10, "total_time_s": 60,
                                    "unsafe_weak_isolation": True}},
            },
        }
    )  # fmt: skip
    return run_pipeline(config, until=until, echo=lambda _: None)


def bench_verify(work: Path, address: str, source: Path, url: str, count: int, shards: int) -> float:
    report = run(
        work,
        address,
        {"name": "taco", "path": str(source), "options": {"min_problem_chars": 10}},
        {"teacher": teacher(url)},
        "verify",
        shards,
    )
    ds = datasets.load_from_disk(str(work / "verify" / "dataset"))
    assert len(ds) == count and all(ds["verified"]), "every solution should pass"
    return count / report["verify"]["seconds"]


def rows_per_shard(work: Path, stage: str) -> list[int]:
    """How the stable hash split the stage's rows (the two-node ceiling: the busier node's share)."""
    markers = sorted((work / stage / "shards").glob("*/_shard_done.json"))
    return [json.loads(m.read_text())["rows"] or 0 for m in markers]


def two_node_ceiling(split: list[int]) -> float:
    """Throughput two nodes can reach over one with this split, shards handed out in rank order to the
    node that is free first (equal work per row)."""
    loads = [0, 0]
    for rows in split:
        loads[loads.index(min(loads))] += rows
    return sum(split) / max(loads)


def bench_generate(
    work: Path, address: str, source: Path, url: str, count: int, rpm: int, shards: int
) -> float:
    gen = {"teacher": teacher(url, requests_per_minute=rpm, max_concurrency=8)}
    report = run(work, address, {"name": "numina_math", "path": str(source)}, gen, "generate", shards)
    return count / report["generate"]["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--solutions", type=int, default=40, help="code solutions verified per case")
    parser.add_argument("--tests", type=int, default=2, help="tests per solution")
    parser.add_argument("--rows", type=int, default=400, help="rows generated per case")
    parser.add_argument("--rpm", type=int, default=1200, help="the teacher's requests/min limit")
    parser.add_argument("--rounds", type=int, default=3, help="1-node / 2-node rounds, paired")
    parser.add_argument(
        "--shards", type=int, default=8, help="executor.shards (the same on 1 and 2 nodes; 2 = one per node)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    import ray
    from ray.cluster_utils import Cluster

    print(f"sandbox layer: {sandbox_report()['layer']}")
    load = describe_load(*idle_window())  # Ray's own processes are not ours to reap: read others first
    print(load)
    node = {"num_cpus": 1, "object_store_memory": 80 * 1024**2}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    proc, gen_url = start_fake_teacher_process(latency_ms=200)
    rounds: list[dict[str, dict[str, float]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, FakeTeacher(script=[
            {"match": "", "content": SOLUTION}
        ]) as coder:  # fmt: skip
            work = Path(tmp)
            code = code_source(work / "code.jsonl", args.solutions, args.tests)
            math = math_source(work / "math.jsonl", args.rows)
            warm = code_source(work / "warm.jsonl", 4, 1)
            for r in range(args.rounds):
                results: dict[str, dict[str, float]] = {}
                second = None
                for nodes in (1, 2):
                    if nodes == 2:
                        second = cluster.add_node(**node)
                        cluster.wait_for_nodes()
                        time.sleep(2)  # let the new node's workers start
                    tag = f"{r}-{nodes}"
                    # a small job first, so the measured run starts with the nodes' workers up
                    bench_verify(work / f"warm-{tag}", cluster.address, warm, coder.base_url, 4, args.shards)
                    verify = bench_verify(
                        work / f"verify-{tag}",
                        cluster.address,
                        code,
                        coder.base_url,
                        args.solutions,
                        args.shards,
                    )
                    split = rows_per_shard(work / f"verify-{tag}", "verify")
                    generate = bench_generate(
                        work / f"generate-{tag}",
                        cluster.address,
                        math,
                        gen_url,
                        args.rows,
                        args.rpm,
                        args.shards,
                    )
                    results[f"{nodes} node(s)"] = {"verify_solutions_per_s": round(verify, 3),
                                                   "generate_rows_per_s": round(generate, 3)}  # fmt: skip
                    print(
                        f"round {r + 1}, {nodes} node(s): verify {verify:.2f} solutions/s, "
                        f"generate {generate:.2f} rows/s"
                    )
                cluster.remove_node(second)
                cluster.wait_for_nodes()
                rounds.append(results)
    finally:
        stop_fake_teacher_process(proc)
        ray.shutdown()
        cluster.shutdown()
    one = [r["1 node(s)"] for r in rounds]
    two = [r["2 node(s)"] for r in rounds]
    ceiling = two_node_ceiling(split)
    summary = {
        "verify_rows_per_shard": split,
        "verify_two_node_ceiling": round(ceiling, 3),
        "verify_ratio_2_vs_1": paired_ratios(
            [t["verify_solutions_per_s"] for t in two], [o["verify_solutions_per_s"] for o in one]
        ),
        "generate_ratio_2_vs_1": paired_ratios(
            [t["generate_rows_per_s"] for t in two], [o["generate_rows_per_s"] for o in one]
        ),
        "generate_limit_rows_per_s": round(args.rpm / 60, 2),
        "rounds": rounds,
        "load": load,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    print(load)
    print(f"verify rows per shard {split}: two nodes can give at most {ceiling:.2f}x with this split")
    print(describe_ratio("verify, 2 nodes / 1 node", summary["verify_ratio_2_vs_1"]) + "   (target >= 1.7x)")
    print(
        describe_ratio("generate, 2 nodes / 1 node", summary["generate_ratio_2_vs_1"])
        + f"   (target: the same, the limit of {args.rpm}/min held globally)"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
