"""One field of a named teacher overridden from the command line: the rest of the teacher stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.pipeline.config import load_config
from thoughtmill.curation.teachers import resolve_teacher

from tests.report.conftest import ROOT

OPENTHOUGHTS = ROOT / "configs" / "openthoughts-114k.yaml"


def test_one_field_of_a_bundled_teacher(tmp_path: Path) -> None:
    config = load_config(OPENTHOUGHTS, [f"run_dir={tmp_path}", "stages.generate.teacher.max_concurrency=4"])
    teacher = resolve_teacher(config.stages.generate.teacher, "stages.generate.teacher")
    assert teacher.max_concurrency == 4
    assert teacher.model == "deepseek-reasoner" and teacher.pricing.output_per_million == 2.19


def test_one_field_of_a_judge_teacher_and_of_a_teacher_file(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "name: mine\nprovider: openai\nmodel: m1\nbase_urls: [http://127.0.0.1:9/v1]\nmax_concurrency: 2\n"
    )
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(OPENTHOUGHTS.read_text().replace("teacher: deepseek-r1", "teacher: mine.yaml"))
    config = load_config(
        pipeline,
        [
            f"run_dir={tmp_path / 'run'}",
            "stages.generate.teacher.generation.temperature=0.1",
            "stages.verify.math.judge_teacher.max_concurrency=3",
        ],
    )
    generate = resolve_teacher(config.stages.generate.teacher, "stages.generate.teacher")
    assert generate.model == "m1" and generate.max_concurrency == 2
    assert generate.generation["temperature"] == 0.1
    judge = resolve_teacher(config.stages.verify.math.judge_teacher, "judge")
    assert judge.max_concurrency == 3 and judge.model == "gpt-4o-mini"


def test_an_unknown_teacher_name_is_still_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no-such-teacher"):
        load_config(
            OPENTHOUGHTS,
            [f"run_dir={tmp_path}", "stages.generate.teacher=no-such-teacher",
             "stages.generate.teacher.max_concurrency=4"],
        )  # fmt: skip
