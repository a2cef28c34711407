"""Scale benchmark of the whole pipeline: a synthetic N-problem run against the fake teacher.

Mostly math (NuminaMath layout, boxed answers, Math-Verify judging), a code share (TACO layout, trivial
stdin tests, run in the real sandbox), zero-latency fake teacher in its own process. Problem texts are
varied (templates, numbers, a generated Zipf vocabulary) with planted exact copies, near copies and
benchmark-contaminated rows, so dedup and decontamination see realistic candidate counts and their
drops can be checked against what was planted. Each size runs in a fresh subprocess; each stage runs
in its own measurement window (wall time, peak anonymous / file-backed RSS, ru_maxrss after it).

    python bench/pipeline.py                 # 17,300 vs 173,000 problems
    python bench/pipeline.py --quick         # 2,000 vs 20,000
    python bench/pipeline.py --sizes 5000    # one size
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCRIPT = [
    {"match": "Return your final response within", "content": "Adding up, the answer is $\\boxed{42}$.",
     "reasoning_content": "Let me think step by step. The total is 42."},
    {"match": "Generate an executable Python function", "content": "```python\nprint(input())\n```",
     "reasoning_content": "Echo the line."},
]  # fmt: skip
MATH_TEMPLATES = (
    "Let $f(x) = {a}x^2 + {b}x - {c}$. {words} Find the value of $f({d})$.",
    "A sequence satisfies $a_1 = {a}$ and $a_{{n+1}} = a_n + {b}$. {words} What is $a_{{{c}}}$?",
    "In triangle $ABC$, $AB = {a}$, $BC = {b}$ and $CA = {c}$. {words} Compute the area of the triangle.",
    "How many positive integers $n \\le {a}{b}$ are divisible by ${c}$ but not by ${d}$? {words}",
    "{words} The sum of ${a}$ consecutive integers is ${b}{c}$. What is the largest of them?",
    "Solve for $x$: ${a}x + {b} = {c}x - {d}$. {words}",
    "A bag holds ${a}$ red and ${b}$ blue marbles. {words} Two are drawn without replacement; find the "
    "probability that both are red, as $m/n$, and compute $m+n$ when ${c} > {d}$.",
    "Find the remainder when ${a}^{{{b}}}$ is divided by ${c}$. {words}",
)
CODE_TEMPLATE = (
    "Echo task {i}: {words}. The input holds ${a}$ lines of at most ${b}$ characters. Read one line from "
    "standard input and print it unchanged. Constraints: $1 \\le n \\le {c}$."
)
#: Words the source filters react to (figure/image markers): kept out of the generated vocabulary.
FILTER_WORDS = ("figure", "diagram", "jpeg", "png", "jpg", "svg", "answer", "http")
BENCHMARK_PROBLEMS = 500  # per synthetic benchmark (aime24 and math500 stand-ins)


class TextMaker:
    """Seeded problem texts: a template, its numbers and 12-48 words from a Zipf-weighted vocabulary."""

    def __init__(self, seed: int, vocabulary: int = 20_000) -> None:
        self.rng = np.random.default_rng(seed)
        syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
        words: set[str] = set()
        while len(words) < vocabulary:
            word = "".join(
                syllables[k] for k in self.rng.integers(0, len(syllables), self.rng.integers(1, 5))
            )
            if not any(f in word for f in FILTER_WORDS):
                words.add(word)
        self.vocab = sorted(words)
        weights = 1.0 / np.arange(1, vocabulary + 1) ** 1.1
        self.weights = weights / weights.sum()

    def words(self, low: int = 12, high: int = 48) -> str:
        picks = self.rng.choice(len(self.vocab), int(self.rng.integers(low, high)), p=self.weights)
        return " ".join(self.vocab[k] for k in picks.tolist()).capitalize() + "."

    def math(self) -> str:
        template = MATH_TEMPLATES[int(self.rng.integers(0, len(MATH_TEMPLATES)))]
        a, b, c, d = self.rng.integers(2, 999, 4).tolist()
        return template.format(a=a, b=b, c=c, d=d, words=self.words())

    def code(self, i: int) -> str:
        a, b, c = self.rng.integers(2, 10_000, 3).tolist()
        return CODE_TEMPLATE.format(i=i, a=a, b=b, c=c, words=self.words(30, 60))

    def near_copy(self, text: str) -> str:
        """1-3 single-character edits: fuzz.ratio stays >= 97 for texts of 100+ characters."""
        chars = list(text)
        for _ in range(int(self.rng.integers(1, 4))):
            chars[int(self.rng.integers(0, len(chars)))] = "xq"[int(self.rng.integers(0, 2))]
        return "".join(chars)


def make_data(
    folder: Path, rows: int, code_share: float, shares: dict[str, float], seed: int = 0
) -> dict[str, Any]:
    """Write synthetic sources in their real layouts plus two benchmark files; return paths and plants."""
    maker = TextMaker(seed)
    bench_maker = TextMaker(seed + 1000)
    benchmarks = {
        name: [bench_maker.math() for _ in range(BENCHMARK_PROBLEMS)] for name in ("aime24", "math500")
    }
    paths: dict[str, Any] = {}
    for name, problems in benchmarks.items():
        paths[name] = folder / f"{name}.jsonl"
        with open(paths[name], "w") as f:
            f.writelines(json.dumps({"problem": p}) + "\n" for p in problems)
    bench_texts = [p for problems in benchmarks.values() for p in problems]
    n_code = int(rows * code_share)
    n_math = rows - n_code
    kinds = maker.rng.choice(
        ["original", "exact", "near", "contaminated"], n_math,
        p=[1 - sum(shares.values()), shares["exact"], shares["near"], shares["contaminated"]],
    )  # fmt: skip
    kinds[:10] = "original"  # copies need earlier rows to copy
    planted = {k: int((kinds == k).sum()) for k in ("exact", "near", "contaminated")}
    texts: list[str] = []
    paths["math"] = folder / "numina.jsonl"
    with open(paths["math"], "w") as f:
        for i, kind in enumerate(kinds.tolist()):
            if kind == "exact":  # same after normalisation: case and spacing differ
                problem = "  " + texts[int(maker.rng.integers(0, i))].upper().replace(" ", "  ")
            elif kind == "near":
                problem = maker.near_copy(texts[int(maker.rng.integers(0, i))])
            elif kind == "contaminated":
                problem = maker.near_copy(bench_texts[int(maker.rng.integers(0, len(bench_texts)))])
            else:
                problem = maker.math()
            texts.append(problem)
            answer = 42 if i % 4 else 7  # a quarter of the teacher's answers (42) are wrong
            f.write(json.dumps({"source": "math", "problem": problem, "solution": f"So $\\boxed{{{answer}}}$.",
                                "messages": []}) + "\n")  # fmt: skip
    tests = json.dumps({"inputs": ["hello\n", "world\n"], "outputs": ["hello\n", "world\n"]})
    paths["code"] = folder / "taco.jsonl"
    with open(paths["code"], "w") as f:
        for i in range(n_code):
            f.write(json.dumps({"question": maker.code(i), "solutions": json.dumps(["print(input())"]),
                                "input_output": tests, "starter_code": "", "picture_num": "0"}) + "\n")  # fmt: skip
    mean_chars = sum(map(len, texts)) / max(len(texts), 1)
    return {"paths": paths, "planted": planted, "mean_problem_chars": round(mean_chars)}


def _config(workdir: Path, data: dict[str, Any], base_url: str) -> Any:
    from thoughtmill.curation.pipeline.config import config_from_dict

    paths = data["paths"]
    return config_from_dict({
        "name": "bench", "run_dir": str(workdir / "run"),
        "stages": {
            "sources": {"sources": [{"name": "numina_math", "path": str(paths["math"])},
                                    {"name": "taco", "path": str(paths["code"])}]},
            "decontaminate": {"benchmarks": ["aime24", "math500"], "method": "fuzzy",
                              "local_files": {"aime24": str(paths["aime24"]), "math500": str(paths["math500"])}},
            "generate": {"progress": False, "teacher": {
                "name": "fake", "provider": "openai", "model": "fake-r1", "base_urls": [base_url],
                "max_concurrency": 64, "timeout_s": 60}},
            "verify": {"code": {"time_s": 5, "total_time_s": 20, "memory_mb": 256}},
        },
    })  # fmt: skip


def child(workdir: Path) -> dict[str, Any]:
    """One measured run (in this fresh process, on data the parent wrote): each stage in its own RSS window."""
    import datasets
    from thoughtmill.curation.pipeline.config import STAGE_ORDER
    from thoughtmill.curation.pipeline.rundir import RunDir
    from thoughtmill.curation.pipeline.runner import run_pipeline

    from bench._memory import RssSampler, max_rss_mb, read_rss
    from tests.support.fake_teacher import (
        start_fake_teacher_process,
        stop_fake_teacher_process,
    )

    datasets.disable_progress_bars()
    os.environ["HF_DATASETS_CACHE"] = str(workdir / "hf")
    data = json.loads((workdir / "data.json").read_text())
    rows = data["rows"]
    baseline_anon = read_rss()[0]
    sampler = RssSampler()
    proc, base_url = start_fake_teacher_process(script=SCRIPT)
    stages: dict[str, dict[str, Any]] = {}
    try:
        config = _config(workdir, data, base_url)
        for name in STAGE_ORDER:
            sampler.window()
            report = run_pipeline(config, until=name, echo=lambda _: None)
            peaks = sampler.window()
            stages[name] = {
                "seconds": report[name]["seconds"],
                **peaks.to_dict(),
                "ru_maxrss_mb": round(max_rss_mb(), 1),
            }
    finally:
        sampler.stop()
        stop_fake_teacher_process(proc)
    run = RunDir(config)
    rows_in = rows
    for name in STAGE_ORDER:
        stages[name]["rows_in"] = rows_in
        rows_in = (run.marker(name) or {}).get("summary", {}).get("rows", rows_in)
    summaries = run.summaries()
    return {
        "rows": rows,
        "make_data_s": data["make_data_s"],
        "mean_problem_chars": data["mean_problem_chars"],
        "planted": data["planted"],
        "dedup": {
            k: summaries["dedup"]["stats"][k]
            for k in ("exact_duplicates", "near_duplicates", "candidate_pairs")
        },
        "decontaminated": summaries["decontaminate"]["stats"]["dropped"],
        "generated_rows": summaries["write"]["rows"],
        "verified_rows": summaries["write"]["verified_rows"],
        "baseline_anon_mb": round(baseline_anon, 1),
        "stages": stages,
        "peak_rss_mb": round(max_rss_mb(), 1),
        "peak_anon_mb": max(s["anon_mb"] for s in stages.values()),
        "peak_file_mb": max(s["file_mb"] for s in stages.values()),
    }


def measure(rows: int, code_share: float, shares: dict[str, float]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        started = time.perf_counter()
        data = make_data(Path(tmp), rows, code_share, shares)
        data.update(rows=rows, make_data_s=round(time.perf_counter() - started, 1))
        data["paths"] = {k: str(v) for k, v in data["paths"].items()}
        (Path(tmp) / "data.json").write_text(json.dumps(data))
        cmd = [sys.executable, __file__, "--child", "--workdir", tmp]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def print_result(result: dict[str, Any]) -> None:
    rows = result["rows"]
    total = sum(s["seconds"] for s in result["stages"].values())
    print(f"{rows:>7} problems ({result['mean_problem_chars']} chars avg): total {total:.1f}s, ru_maxrss "
          f"{result['peak_rss_mb']:.0f} MB, peak anon {result['peak_anon_mb']:.0f} MB, peak file "
          f"{result['peak_file_mb']:.0f} MB; verified {result['verified_rows']}/{result['generated_rows']}")  # fmt: skip
    print(f"         planted {result['planted']}; dedup found {result['dedup']}; decontamination dropped "
          f"{result['decontaminated']}")  # fmt: skip
    print(
        f"         {'stage':<14}{'rows in':>9}{'s':>8}{'rows/s':>10}{'anon MB':>9}{'file MB':>9}{'maxrss':>8}"
    )
    for name, s in result["stages"].items():
        rate = f"{s['rows_in'] / s['seconds']:,.0f}" if s["seconds"] else "-"
        print(f"         {name:<14}{s['rows_in']:>9}{s['seconds']:>8.1f}{rate:>10}{s['anon_mb']:>9.0f}"
              f"{s['file_mb']:>9.0f}{s['ru_maxrss_mb']:>8.0f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 vs 20,000 problems")
    parser.add_argument("--sizes", type=int, nargs="+", help="problem counts to run (default 17300 173000)")
    parser.add_argument("--code-share", type=float, default=0.02)
    parser.add_argument(
        "--shares", type=json.loads, default={"exact": 0.01, "near": 0.04, "contaminated": 0.002},
        help="JSON: shares of math rows planted as exact copies, near copies, benchmark near copies",
    )  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.workdir)))
        return
    sizes = args.sizes or ([2000, 20000] if args.quick else [17300, 173000])
    results = []
    for rows in sizes:
        results.append(measure(rows, args.code_share, args.shares))
        print_result(results[-1])
    if len(results) >= 2:
        small, large = results[0], results[-1]
        for key, label in (
            ("peak_rss_mb", "ru_maxrss"),
            ("peak_anon_mb", "peak anon"),
            ("peak_file_mb", "peak file"),
        ):
            growth = large[key] / small[key] - 1
            print(f"{label} {small['rows']} -> {large['rows']} problems: {small[key]:.0f} -> {large[key]:.0f} MB "
                  f"({growth:+.0%}; target: flat, < +25%)")  # fmt: skip
        for name in small["stages"]:
            a, b = small["stages"][name]["anon_mb"], large["stages"][name]["anon_mb"]
            print(f"  {name:<14} anon {a:.0f} -> {b:.0f} MB ({b / a - 1:+.0%})")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
