"""Generation against the fake teacher over real HTTP, and resuming after failures and crashes."""

from __future__ import annotations

import pytest
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.pipeline.stage import load_dataset_at
from thoughtmill.curation.pipeline.verification import VerifyStage

from tests.pipeline.conftest import quiet
from tests.pipeline.helpers import SCRIPT, http_config
from tests.support.fake_teacher import FakeTeacher


@pytest.fixture
def teacher():
    server = FakeTeacher(script=SCRIPT)
    server.start_in_thread()
    yield server
    server.stop()


def test_generate_maps_reasoning_and_solution(tmp_path, teacher):
    config = http_config(tmp_path, teacher.base_url)
    run_pipeline(config, until="generate", echo=quiet)
    ds = load_dataset_at(tmp_path / "run" / "generate" / "engine" / "dataset", what="test")
    rows = ds.to_list()
    assert len(rows) == 6 and teacher.stats()["requests"] == 6
    assert rows[0]["deepseek_reasoning"] == "Think: 42." and "\\boxed{42}" in rows[0]["deepseek_solution"]
    assert rows[0]["teacher"] == "fake-r1" and rows[0]["finish_reason"] == "stop"
    assert rows[0]["completion_tokens"] > 0
    sent = teacher.stats()["per_prompt"]
    assert any(p.startswith("Return your final response within \\boxed{}. Compute") for p in sent)


def test_failed_rows_are_retried_alone_on_the_next_run(tmp_path, teacher):
    teacher.configure(fault_rate={"500": 0.5}, fault_seed=3)
    config = http_config(tmp_path, teacher.base_url)
    report = run_pipeline(config, echo=quiet)
    assert report["generate"]["status"] == "incomplete"
    first = teacher.stats()["status"].get("200", 0)
    failed = teacher.stats()["requests"] - first
    assert 0 < failed < 6
    teacher.configure(fault_rate={})
    before = teacher.stats()["requests"]
    report = run_pipeline(config, echo=quiet)
    assert report["sources"]["status"] == "skipped" and report["generate"]["status"] == "ran"
    assert teacher.stats()["requests"] - before == failed  # only the rows that had failed
    out = load_dataset_at(tmp_path / "run" / "verify" / "verified.arrow", what="test")
    assert len(out) == 6 and sum(out["verified"]) == 4


def test_crash_after_generation_resumes_without_new_requests(tmp_path, teacher, monkeypatch):
    config = http_config(tmp_path, teacher.base_url)

    def boom(self, path):
        raise RuntimeError("simulated crash in verify")

    monkeypatch.setattr(VerifyStage, "run", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_pipeline(config, echo=quiet)
    assert teacher.stats()["requests"] == 6
    monkeypatch.undo()
    report = run_pipeline(config, echo=quiet)
    assert [report[s]["status"] for s in ("sources", "dedup", "generate", "verify")] == [
        "skipped",
        "skipped",
        "skipped",
        "ran",
    ]
    assert teacher.stats()["requests"] == 6


def test_changing_a_stage_setting_reruns_it_and_what_follows(tmp_path, teacher):
    config = http_config(tmp_path, teacher.base_url)
    run_pipeline(config, echo=quiet)
    changed = config.model_copy(deep=True)
    changed.stages.verify.reject_truncated = False
    report = run_pipeline(changed, echo=quiet)
    assert report["generate"]["status"] == "skipped"
    assert [report[s]["status"] for s in ("verify", "write", "card")] == ["ran"] * 3
    assert teacher.stats()["requests"] == 6
