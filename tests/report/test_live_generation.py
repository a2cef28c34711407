"""Generation watched and capped: a real pipeline against the fake teacher over HTTP.

``status`` of a run killed mid-generation (answers paid for, cost so far), and the run's
``budget_usd`` stopping generation, then finished by raising it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from thoughtmill.curation.errors import CurationError
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.pipeline.status import format_status, status_view

from tests.pipeline.helpers import SCRIPT, http_config
from tests.report.jobs import kill, pipeline_job, wait_for
from tests.support.fake_teacher import FakeTeacher

pytestmark = pytest.mark.slow

PRICING = {"input_per_million": 1000.0, "output_per_million": 1000.0}


@pytest.fixture
def teacher():
    server = FakeTeacher(script=SCRIPT)
    server.start_in_thread()
    yield server
    server.stop()


def _paid(server: FakeTeacher) -> float:
    stats = server.stats(brief=True)
    return (stats["prompt_tokens"] + stats["completion_tokens"]) / 1000


def test_status_of_a_run_killed_mid_generation(tmp_path: Path, teacher: FakeTeacher) -> None:
    teacher.configure(latency_ms=400)
    config = http_config(tmp_path, teacher.base_url, max_concurrency=1, pricing=PRICING)
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text(config.to_yaml())
    run_dir = Path(config.run_dir)
    with pipeline_job(config_file, run_dir) as job:
        wait_for(run_dir / "progress.json", lambda s: (s["stages"].get("generate") or {}).get("done", 0) >= 2)
        live = status_view(run_dir)
        generate = next(s for s in live["stages"] if s["stage"] == "generate")
        assert generate["state"] == "running" and generate["total"] == 6 and live["cost_usd"] > 0
        kill(job)
    view = status_view(run_dir)
    generate = next(s for s in view["stages"] if s["stage"] == "generate")
    assert generate["state"] == "interrupted" and 2 <= generate["done"] < 6
    assert 0 < view["cost_usd"] <= _paid(teacher)
    text = "\n".join(format_status(view))
    assert f"generate      interrupted   {generate['done']}/6 rows" in text and "cost so far: $0." in text
    # the next run pays only for what had no answer yet (at most the one request in flight again)
    teacher.configure(latency_ms=0)
    sent = teacher.stats(brief=True)["requests"]
    run_pipeline(config, until="generate", echo=lambda _: None)
    assert teacher.stats(brief=True)["requests"] - sent <= 6 - generate["done"] + 1


def test_the_run_budget_stops_generation_and_a_higher_one_finishes_it(tmp_path: Path, teacher) -> None:
    lines: list[str] = []
    # max_tokens bounds the first request's estimate (the fake teacher's answers are shorter)
    config = http_config(
        tmp_path, teacher.base_url, max_concurrency=1, pricing=PRICING, generation={"max_tokens": 64}
    )
    per_answer = 0.115  # about 104 prompt + 11 answer tokens per scripted answer
    capped = config.model_copy(update={"budget_usd": 3.5 * per_answer})
    report = run_pipeline(capped, until="generate", echo=lines.append)
    assert report["generate"]["status"] == "incomplete"
    sent = teacher.stats(brief=True)["requests"]
    assert 1 <= sent < 6 and _paid(teacher) <= capped.budget_usd
    hint = next(line for line in lines if "budget_usd" in line)
    assert "not sent" in hint and f"thoughtmill run {config.run_dir} budget_usd=" in hint
    report = run_pipeline(
        config.model_copy(update={"budget_usd": 100.0}), until="generate", echo=lines.append
    )
    assert report["generate"]["status"] == "ran" and teacher.stats(brief=True)["requests"] == 6


def test_a_budget_too_small_for_one_request_says_so(tmp_path: Path, teacher) -> None:
    config = http_config(tmp_path, teacher.base_url, pricing=PRICING).model_copy(update={"budget_usd": 0.001})
    with pytest.raises(CurationError, match=r"stopped by budget_usd=\$0\.00: 6 request\(s\) not sent"):
        run_pipeline(config, until="generate", echo=lambda _: None)
    assert teacher.stats(brief=True)["requests"] == 0
