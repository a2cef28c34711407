"""Scale benchmark of the whole pipeline: a synthetic N-problem run against the fake teacher.

Mostly math (NuminaMath layout, boxed answers, Math-Verify judging), a code share (TACO layout, trivial
stdin tests, run in the real sandbox), zero-latency fake teacher in its own process. Each size runs in a
fresh subprocess so its peak RSS is its own; peak RSS must stay flat as the run grows.

    python bench/pipeline.py                 # 17,300 vs 173,000 problems
    python bench/pipeline.py --quick         # 2,000 vs 20,000
    python bench/pipeline.py --sizes 5000    # one size
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = (
    "apple river stone cloud number prime square circle garden window market candle silver forest "
    "engine rocket planet violin mirror ladder bridge castle island desert meadow harbor valley summit "
    "lantern compass anchor feather marble velvet copper crystal thunder shadow whisper puzzle signal"
).split()
SCRIPT = [
    {"match": "Return your final response within", "content": "Adding up, the answer is $\\boxed{42}$.",
     "reasoning_content": "Let me think step by step. The total is 42."},
    {"match": "Generate an executable Python function", "content": "```python\nprint(input())\n```",
     "reasoning_content": "Echo the line."},
]  # fmt: skip


def make_data(folder: Path, rows: int, code_share: float, seed: int = 0) -> dict[str, Path]:
    """Write synthetic sources in their real layouts (varied text so dedup keeps them)."""
    rng = random.Random(seed)
    n_code = int(rows * code_share)
    math_path, code_path = folder / "numina.jsonl", folder / "taco.jsonl"
    with open(math_path, "w") as f:
        for i in range(rows - n_code):
            words = " ".join(rng.choice(WORDS) for _ in range(24))
            answer = 42 if i % 4 else 7  # a quarter of the teacher's answers (42) are wrong
            problem = f"Problem {i}: {words}. Compute the total count of items."
            f.write(json.dumps({"source": "math", "problem": problem, "solution": f"So $\\boxed{{{answer}}}$.",
                                "messages": []}) + "\n")  # fmt: skip
    tests = json.dumps({"inputs": ["hello\n", "world\n"], "outputs": ["hello\n", "world\n"]})
    with open(code_path, "w") as f:
        for i in range(n_code):
            words = " ".join(rng.choice(WORDS) for _ in range(40))
            question = f"Echo task {i}. {words}. Read one line from standard input and print it unchanged."
            f.write(json.dumps({"question": question, "solutions": json.dumps(["print(input())"]),
                                "input_output": tests, "starter_code": "", "picture_num": "0"}) + "\n")  # fmt: skip
    return {"math": math_path, "code": code_path}


def child(rows: int, code_share: float, workdir: Path) -> dict:
    """One measured run (in this fresh process)."""
    import datasets

    from curation.pipeline.config import config_from_dict
    from curation.pipeline.runner import run_pipeline
    from curation.testing.fake_teacher import start_fake_teacher_process, stop_fake_teacher_process

    datasets.disable_progress_bars()
    os.environ["HF_DATASETS_CACHE"] = str(workdir / "hf")
    started = time.perf_counter()
    paths = make_data(workdir, rows, code_share)
    make_s = time.perf_counter() - started
    proc, base_url = start_fake_teacher_process(script=SCRIPT)
    try:
        config = config_from_dict({
            "name": "bench", "run_dir": str(workdir / "run"),
            "stages": {
                "sources": {"sources": [{"name": "numina_math", "path": str(paths["math"])},
                                        {"name": "taco", "path": str(paths["code"]), "options": {"min_problem_chars": 100}}]},
                "decontaminate": {"enabled": False},
                "generate": {"progress": False, "teacher": {
                    "name": "fake", "provider": "openai", "model": "fake-r1", "base_urls": [base_url],
                    "max_concurrency": 64, "timeout_s": 60}},
                "verify": {"code": {"time_s": 5, "total_time_s": 20, "memory_mb": 256}},
            },
        })  # fmt: skip
        report = run_pipeline(config, echo=lambda _: None)
    finally:
        stop_fake_teacher_process(proc)
    marker = json.loads((workdir / "run" / "write" / "_done.json").read_text())["summary"]
    return {
        "rows": rows,
        "make_data_s": round(make_s, 1),
        "stages": {k: v["seconds"] for k, v in report.items()},
        "verified_rows": marker["verified_rows"],
        "generated_rows": marker["rows"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure(rows: int, code_share: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(rows),
            "--code-share",
            str(code_share),
            "--workdir",
            tmp,
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 vs 20,000 problems")
    parser.add_argument("--sizes", type=int, nargs="+", help="problem counts to run (default 17300 173000)")
    parser.add_argument("--code-share", type=float, default=0.02)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.code_share, args.workdir)))
        return
    sizes = args.sizes or ([2000, 20000] if args.quick else [17300, 173000])
    results = []
    for rows in sizes:
        result = measure(rows, args.code_share)
        results.append(result)
        total = sum(result["stages"].values())
        per_stage = ", ".join(
            f"{k} {v:.1f}s ({rows / v:,.0f}/s)" if v else f"{k} 0s" for k, v in result["stages"].items()
        )
        print(f"{rows:>7} problems: total {total:.1f}s, peak RSS {result['peak_rss_mb']:.0f} MB, "
              f"verified {result['verified_rows']}/{result['generated_rows']}\n         {per_stage}", flush=True)  # fmt: skip
    if len(results) >= 2:
        small, large = results[0], results[-1]
        growth = large["peak_rss_mb"] / small["peak_rss_mb"] - 1
        print(f"peak RSS {small['rows']} -> {large['rows']} problems: {small['peak_rss_mb']:.0f} -> "
              f"{large['peak_rss_mb']:.0f} MB ({growth:+.0%}; target: flat, < +25%)")  # fmt: skip
    print(json.dumps(results))


if __name__ == "__main__":
    main()
