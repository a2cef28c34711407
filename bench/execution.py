"""Benchmark the code-execution backend against the anchor pipelines' way of running tests.

    python bench/execution.py                      # 2,000 trivial solutions x 10 stdin tests (+ baselines)
    python bench/execution.py --solutions 200 --baseline-solutions 50 --heavy 8   # a quick run

(a) this backend: `execution.run_batch`, full isolation (whatever `sandbox_report()` says, printed),
    one judge per core, all tests of a solution in one sandboxed runner;
(b) baseline: one plain `subprocess.run([python, file], input=...)` per test, no isolation, one
    thread per core, as the APPS/TACO-derived checkers do (with the environment's interpreter);
(c) the same baseline with the bare interpreter (`/usr/bin/python3 -I -S`), for reference.
Then a heavy case: solutions that never finish, to show the wall-clock limit holds under load.
Rates are per second of wall time, measured in this one run on this machine, in alternating rounds:
the ratios are per round (median and range), printed with the machine's load before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thoughtmill.execution import Limits, Status, run_batch, sandbox_report
from thoughtmill.execution.compare import strict_stdout

from bench._spread import describe_load, describe_ratio, machine_load, paired_ratios


def trivial(i: int, n_tests: int) -> tuple[str, dict]:
    var = f"v{i}"
    code = f"{var}, w = map(int, input().split())\nprint({var} + w)\n"
    inputs = [f"{i} {t}\n" for t in range(n_tests)]
    outputs = [f"{i + t}\n" for t in range(n_tests)]
    return code, {"inputs": inputs, "outputs": outputs}


def bench_backend(n: int, n_tests: int, workers: int, limits: Limits) -> dict:
    items = ((i, *trivial(i, n_tests)) for i in range(n))
    t0 = time.perf_counter()
    statuses: dict[str, int] = {}
    for _id, v in run_batch(items, limits, workers=workers):
        statuses[v.status.value] = statuses.get(v.status.value, 0) + 1
    dt = time.perf_counter() - t0
    return {"solutions": n, "tests": n * n_tests, "seconds": dt, "statuses": statuses}


def bench_subprocess(n: int, n_tests: int, workers: int, argv_prefix: list[str], timeout: float) -> dict:
    """One subprocess.run per test, no isolation (the anchor pipelines' checker)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-exec-"))

    def one_solution(i: int) -> bool:
        code, tc = trivial(i, n_tests)
        path = tmp / f"sol{i}.py"
        path.write_text(code)
        ok = True
        for inp, out in zip(tc["inputs"], tc["outputs"]):
            try:
                r = subprocess.run(
                    [*argv_prefix, str(path)], input=inp.encode(), capture_output=True, timeout=timeout
                )
                ok = ok and r.returncode == 0 and strict_stdout(r.stdout.decode(), out)
            except subprocess.TimeoutExpired:
                ok = False
        return ok

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        passed = sum(pool.map(one_solution, range(n)))
    dt = time.perf_counter() - t0
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
    return {"solutions": n, "tests": n * n_tests, "seconds": dt, "statuses": {"accepted": passed}}


def bench_heavy(n: int, workers: int, time_s: float, n_tests: int) -> dict:
    """Solutions that never finish (busy loops and sleeps), more judges than cores: limits must hold."""
    codes = ["while True:\n    pass\n", "import time\ntime.sleep(10**6)\n"]
    tc = {"inputs": ["1\n"] * n_tests, "outputs": ["1\n"] * n_tests}
    items = ((i, codes[i % 2], tc) for i in range(n))
    limits = Limits(time_s=time_s, total_time_s=60)
    t0 = time.perf_counter()
    walls, statuses = [], {}
    for _id, v in run_batch(items, limits, workers=workers):
        walls.append(v.wall_time_s)
        statuses[v.status.value] = statuses.get(v.status.value, 0) + 1
    dt = time.perf_counter() - t0
    walls.sort()
    return {
        "solutions": n,
        "workers": workers,
        "time_limit_s": time_s,
        "seconds": dt,
        "statuses": statuses,
        "wall_per_solution_s": {
            "median": statistics.median(walls),
            "p95": walls[int(0.95 * (len(walls) - 1))],
            "max": walls[-1],
        },
        "all_time_limit": statuses.get(Status.TIME_LIMIT.value, 0) == n,
    }


def rate(r: dict) -> tuple[float, float]:
    return r["tests"] / r["seconds"], r["solutions"] / r["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--solutions", type=int, default=2000)
    ap.add_argument("--tests", type=int, default=10, help="stdin tests per solution")
    ap.add_argument(
        "--baseline-solutions", type=int, default=400, help="solutions for each baseline (same tests)"
    )
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--heavy", type=int, default=16, help="timing-out solutions in the heavy case (0: skip)")
    ap.add_argument("--heavy-time", type=float, default=1.0, help="per-test time limit in the heavy case")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of backend and baselines")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    report = sandbox_report()
    print(
        f"isolation layer: {report['layer']} (python {report['python']} {report['python_version']}, "
        f"uid {report['uid_in_sandbox']}, network {report['network']}, cgroups {report['cgroups']})"
    )
    print(f"machine: {os.cpu_count()} cores; workers: {args.workers}")
    limits = Limits()
    results = {"layer": report["layer"], "cores": os.cpu_count(), "workers": args.workers}

    load_before = machine_load()
    bare = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    rounds: list[dict] = []
    for r in range(args.rounds):  # alternating, so each round compares the sides under one load
        b = bench_backend(args.solutions, args.tests, args.workers, limits)
        a = bench_subprocess(
            args.baseline_solutions, args.tests, args.workers, [sys.executable], limits.time_s
        )
        c = bench_subprocess(
            args.baseline_solutions, args.tests, args.workers, [bare, "-I", "-S"], limits.time_s
        )
        rounds.append({"backend": b, "baseline_env_python": a, "baseline_bare_python": c})
        print(f"\nround {r + 1}/{args.rounds}")
        print(f"{'':38s} {'solutions':>9s} {'tests':>7s} {'seconds':>8s} {'tests/s':>8s} {'sol/s':>7s}")
        for name, res in (
            ("this backend (sandboxed)", b),
            (f"baseline: subprocess per test ({Path(sys.executable).name})", a),
            ("baseline: subprocess per test (bare -I -S)", c),
        ):
            t, sol = rate(res)
            print(
                f"{name:38s} {res['solutions']:9d} {res['tests']:7d} {res['seconds']:8.1f} {t:8.0f} "
                f"{sol:7.1f}   {res['statuses']}"
            )
    results["rounds"] = rounds
    backend = [rate(r["backend"])[0] for r in rounds]
    results["ratio_vs_env_baseline"] = paired_ratios(
        backend, [rate(r["baseline_env_python"])[0] for r in rounds]
    )
    results["ratio_vs_bare_baseline"] = paired_ratios(
        backend, [rate(r["baseline_bare_python"])[0] for r in rounds]
    )
    results["load_before"], results["load_after"] = load_before, machine_load()
    print()
    print(describe_load(results["load_before"], results["load_after"]))
    print(
        describe_ratio("tests/s, this backend / anchor-style baseline", results["ratio_vs_env_baseline"])
        + "   (target >= 3x)"
    )
    print(
        describe_ratio("tests/s, this backend / bare-interpreter baseline", results["ratio_vs_bare_baseline"])
    )

    if args.heavy:
        for workers in (args.workers, 2 * args.workers):
            h = bench_heavy(args.heavy, workers, args.heavy_time, 3)
            results.setdefault("heavy", []).append(h)
            w = h["wall_per_solution_s"]
            print(
                f"\nheavy: {h['solutions']} never-ending solutions, {workers} judges on {os.cpu_count()} cores, "
                f"limit {h['time_limit_s']:g} s/test: {h['statuses']} in {h['seconds']:.1f} s; "
                f"wall per solution median {w['median']:.2f} s, p95 {w['p95']:.2f} s, max {w['max']:.2f} s"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
