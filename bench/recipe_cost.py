"""What a recipe costs at list and batch prices, from the engine's own accounting on a synthetic run.

Every model call a recipe makes (generation per domain, the math judge, difficulty ratings, the cheap
model's answers for the length filter) is run here on synthetic rows through the recipe's real ``LLM``
classes and prompts, against the fake teacher, with each teacher's bundled config (its pricing). The
engine counts the tokens and the dollars (``Pricing.usage_cost``, live and batch); tokens per row times
the recipe's row counts gives the recipe's bill. The fake teacher counts tokens as ceil(chars / 4)
and answers with as many tokens as ASSUMPTIONS says; those, and the problem sizes and row counts, are
assumptions printed with the result (the OT3 counts come from configs/openthoughts3.yaml).

    .venv/bin/python bench/recipe_cost.py              # 200 synthetic rows per call kind
    .venv/bin/python bench/recipe_cost.py --rows 20    # quicker, same figures within a few %
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thoughtmill.curation.engine import LLM, TeacherConfig, Usage  # noqa: E402
from thoughtmill.curation.generate import GenerateTraces  # noqa: E402
from thoughtmill.curation.judges.llm_judge import AnswerJudge  # noqa: E402
from thoughtmill.curation.pipeline.config import load_config  # noqa: E402
from thoughtmill.curation.pipeline.filters_difficulty import RateDifficulty  # noqa: E402
from thoughtmill.curation.pipeline.filters_length import AnswerForLength  # noqa: E402

from tests.support.fake_teacher import FakeTeacher  # noqa: E402
from thoughtmill.resources import bundled_config  # noqa: E402

#: Everything here that is not measured. Answer lengths are completion tokens (reasoning included).
ASSUMPTIONS: dict[str, Any] = {
    "problem_chars": {"code": 1800, "math": 350, "science": 400, "puzzle": 250},
    "answer_tokens": {
        "deepseek-r1": {"code": 6000, "math": 4500, "science": 3500, "puzzle": 2500},
        "qwq-32b-vllm": {"code": 9000, "math": 7000, "science": 5500},
    },
    "solution_share": 0.1,  # of an answer, the part after the reasoning (what the math judge reads)
    "cheap_answer_tokens": 800,  # gpt-4o-mini answering a question for the length filter
    # OpenThoughts-114k: 173k generated rows (the bench/pipeline.py scale) split like the published set
    "114k_generated": {"math": 135000, "code": 30000, "science": 4500, "puzzle": 3500},
    "114k_math_judged_share": 0.3,  # math rows Math-Verify rejects or cannot read, sent to the judge
}


@dataclass
class Call:
    """One kind of model call in a recipe: what runs it, on which teacher, how many in the recipe."""

    recipe: str
    what: str
    llm: type[LLM]
    teacher: str
    domain: str
    count: int
    answer_tokens: int
    solution_tokens: int = 0


def fake_teacher(name: str, url: str) -> TeacherConfig:
    """A bundled teacher config (model, generation, pricing) pointed at the fake teacher."""
    data = yaml.safe_load(bundled_config("teachers", f"{name}.yaml").read_text())
    data.update(base_urls=[url], api_key_env=None, timeout_s=30, max_concurrency=32)
    data["retry"] = {"max_attempts": 2, "backoff_initial_s": 0.01, "backoff_max_s": 0.05}
    return TeacherConfig.from_dict(data)


def synthetic_rows(call: Call, rows: int) -> list[dict[str, Any]]:
    chars = ASSUMPTIONS["problem_chars"][call.domain]
    out = []
    for i in range(rows):
        words = " ".join(f"w{(i * 7919 + k * 104729) % 5000}" for k in range(chars // 6))
        problem = f"Problem {i}: {words}"[:chars]
        out.append(
            {
                "id": f"{call.domain}-{i}",
                "_key": f"{call.domain}-{i}",
                "_position": i,
                "problem": problem,
                "domain": call.domain,
                "source": "synthetic",
                "test_cases": None,
                "starter_code": "",
                "ground_truth_solution": "The answer is 42.",
                "deepseek_solution": "x" * (call.solution_tokens * 4),
            }
        )
    return out


def measure(call: Call, teacher: FakeTeacher, rows: int, work: Path) -> dict[str, Any]:
    """Run ``rows`` synthetic calls through the engine; its stats give tokens and list cost per row."""
    reasoning = int(call.answer_tokens * (1 - ASSUMPTIONS["solution_share"]))
    teacher.configure(
        answer_bytes=max(4, (call.answer_tokens - reasoning) * 4),
        reasoning=reasoning > 0,
        reasoning_bytes=max(4, reasoning * 4),
    )
    config = fake_teacher(call.teacher, teacher.base_url)
    llm = call.llm(config, working_dir=work / call.recipe / call.what, name=call.what, progress=False)
    llm(synthetic_rows(call, rows))
    stats = llm.stats
    prompt, completion = stats["prompt_tokens"] / rows, stats["completion_tokens"] / rows
    per_row_batch = config.pricing.usage_cost(
        Usage(prompt_tokens=stats["prompt_tokens"], completion_tokens=stats["completion_tokens"]), batch=True
    )
    return {
        "prompt_tokens_per_row": prompt,
        "completion_tokens_per_row": completion,
        "list_per_row": stats["cost_usd"] / rows,
        "batch_per_row": per_row_batch / rows,
        "pricing": config.pricing,
    }


def recipe_calls() -> list[Call]:
    solution = ASSUMPTIONS["solution_share"]
    calls = []
    r1 = ASSUMPTIONS["answer_tokens"]["deepseek-r1"]
    for domain, count in ASSUMPTIONS["114k_generated"].items():
        calls.append(
            Call("114k", f"generate {domain}", GenerateTraces, "deepseek-r1", domain, count, r1[domain])
        )
    judged = int(ASSUMPTIONS["114k_generated"]["math"] * ASSUMPTIONS["114k_math_judged_share"])
    calls.append(
        Call(
            "114k",
            "math judge",
            AnswerJudge,
            "openai-gpt-4o-mini",
            "math",
            judged,
            0,
            int(r1["math"] * solution),
        )
    )
    ot3 = load_config(bundled_config("openthoughts3.yaml")).stages
    pools = ot3.mix.questions_per_domain
    assert isinstance(pools, dict)
    cheap = ASSUMPTIONS["cheap_answer_tokens"]
    calls.append(
        Call("ot3", "difficulty (code)", RateDifficulty, "openai-gpt-4o-mini", "code", pools["code"], 0)
    )
    for domain in ot3.response_length.domains:
        calls.append(
            Call(
                "ot3",
                f"length ({domain})",
                AnswerForLength,
                "openai-gpt-4o-mini",
                domain,
                pools[domain],
                cheap,
            )
        )
    qwq = ASSUMPTIONS["answer_tokens"]["qwq-32b-vllm"]
    kept = {"code": ot3.difficulty.rule_for("code").top_n}
    kept.update({d: ot3.response_length.rule_for(d).top_n for d in ot3.response_length.domains})
    for domain, questions in kept.items():
        answers = questions * ot3.generate.samples_for(domain)
        calls.append(
            Call("ot3", f"generate {domain}", GenerateTraces, "qwq-32b-vllm", domain, answers, qwq[domain])
        )
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200, help="synthetic rows per kind of call")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    reference = fake_teacher("deepseek-r1", "http://127.0.0.1:9/v1").pricing  # QwQ's tokens at R1's price
    results = []
    with tempfile.TemporaryDirectory() as tmp, FakeTeacher(latency_ms=0) as teacher:
        for call in recipe_calls():
            m = measure(call, teacher, args.rows, Path(tmp))
            row = {
                "recipe": call.recipe,
                "call": call.what,
                "teacher": call.teacher,
                "rows": call.count,
                "prompt_tokens_per_row": round(m["prompt_tokens_per_row"]),
                "completion_tokens_per_row": round(m["completion_tokens_per_row"]),
                "list_usd": m["list_per_row"] * call.count,
                "batch_usd": m["batch_per_row"] * call.count,
            }
            if call.teacher == "qwq-32b-vllm":
                usage = Usage(
                    prompt_tokens=round(m["prompt_tokens_per_row"] * call.count),
                    completion_tokens=round(m["completion_tokens_per_row"] * call.count),
                )
                row["at_r1_list_usd"] = reference.usage_cost(usage)
                row["at_r1_batch_usd"] = reference.usage_cost(usage, batch=True)
            results.append(row)
    print("assumptions:", json.dumps(ASSUMPTIONS))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps({"assumptions": ASSUMPTIONS, "results": results}, indent=2))


def print_table(results: list[dict[str, Any]]) -> None:
    print("| recipe | call | teacher | rows | prompt tok/row | completion tok/row | list $ | batch $ |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for recipe in ("114k", "ot3"):
        mine = [r for r in results if r["recipe"] == recipe]
        for r in mine:
            print(
                f"| {recipe} | {r['call']} | {r['teacher']} | {r['rows']:,} | {r['prompt_tokens_per_row']:,} | "
                f"{r['completion_tokens_per_row']:,} | {r['list_usd']:,.0f} | {r['batch_usd']:,.0f} |"
            )
        list_total = sum(r["list_usd"] for r in mine)
        batch_total = sum(r["batch_usd"] for r in mine)
        print(f"| **{recipe}** | **total** | | | | | **{list_total:,.0f}** | **{batch_total:,.0f}** |")
        at_r1 = [r for r in mine if "at_r1_list_usd" in r]
        if at_r1:
            extra_list = sum(r["at_r1_list_usd"] for r in at_r1)
            extra_batch = sum(r["at_r1_batch_usd"] for r in at_r1)
            print(
                f"| {recipe} | generation tokens at deepseek-r1 prices | | | | | {extra_list:,.0f} | "
                f"{extra_batch:,.0f} |"
            )


if __name__ == "__main__":
    main()
