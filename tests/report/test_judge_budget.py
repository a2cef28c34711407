"""The run's budget covers its LLM judges too: what generation spent counts, judges share what is left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from thoughtmill.curation.engine.budget import RunBudget
from thoughtmill.curation.engine.config import load_teacher
from thoughtmill.curation.judges.math import MathJudge, MathJudgeConfig

from tests.support.fake_teacher import FakeTeacher

PRICING = {"input_per_million": 1000.0, "output_per_million": 1000.0}
SCRIPT = [{"match": "seven", "content": json.dumps({"correct": False, "reasoning": "7 is not 4"})}]


def _rows(n: int) -> list[dict]:
    return [
        {"_key": f"k{i}", "id": f"r{i}", "problem": f"2+2? ({i})", "ground_truth_solution": "$\\boxed{4}$",
         "deepseek_solution": f"It is seven ({i})", "domain": "math"}
        for i in range(n)
    ]  # fmt: skip


def _judge(server: FakeTeacher, tmp_path: Path, budget: RunBudget) -> MathJudge:
    teacher = {"name": "judge", "provider": "openai", "model": "fake-judge", "base_urls": [server.base_url],
               "max_concurrency": 1, "pricing": PRICING, "generation": {"max_tokens": 64}}  # fmt: skip
    config = MathJudgeConfig(mode="judge", judge_teacher=teacher)
    return MathJudge(
        config, load_teacher(teacher), cache_root=tmp_path, work_dir=tmp_path / "v", budget=budget
    )


def test_what_generation_spent_leaves_nothing_for_the_judge(tmp_path: Path) -> None:
    with FakeTeacher(script=SCRIPT) as server:
        budget = RunBudget(limit_usd=1.0, spent_usd=1.0)
        out = dict(_judge(server, tmp_path, budget).judge(_rows(3)))
        assert server.stats()["requests"] == 0
    assert all(j.verdict == "judge_failed" and j.retry for j in out.values())
    assert "budget_usd" in out["k0"].detail["error"]


def test_judges_spend_what_is_left_and_add_it_to_the_run(tmp_path: Path) -> None:
    with FakeTeacher(script=SCRIPT) as server:
        budget = RunBudget(limit_usd=100.0, spent_usd=2.0)
        out = dict(_judge(server, tmp_path, budget).judge(_rows(3)))
        stats = server.stats()
        paid = (stats["prompt_tokens"] + stats["completion_tokens"]) / 1000
    assert stats["requests"] == 3 and all(j.verdict == "incorrect" for j in out.values())
    assert budget.spent_usd == pytest.approx(2.0 + paid)
