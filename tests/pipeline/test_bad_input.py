"""Bad configs and bad rows: clear errors naming the key, field, file or row; nothing paid for is lost."""

from __future__ import annotations

import pytest
from thoughtmill.curation.errors import ConfigError, InputError
from thoughtmill.curation.pipeline.config import load_config
from thoughtmill.curation.pipeline.runner import run_pipeline

from tests.pipeline.conftest import DEMO, demo_config, quiet
from tests.pipeline.helpers import DATA


def write(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"stages\.dedup\.treshold: unknown key"):
        load_config(DEMO, ["stages.dedup.treshold=90"])


def test_missing_field_is_named(tmp_path):
    path = write(tmp_path, "name: x\nrun_dir: r\nstages:\n  sources:\n    sources: [{name: taco}]\n")
    with pytest.raises(ConfigError, match=r"stages\.generate: required field is missing"):
        load_config(path)


def test_bad_override_and_bad_teacher_are_named(tmp_path):
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(DEMO, ["stages.generate"])
    with pytest.raises(ConfigError, match=r"stages\.generate\.teacher.*no bundled teacher"):
        load_config(DEMO, ["stages.generate.teacher=no-such-teacher"])
    with pytest.raises(ConfigError, match=r"judge_teacher is required when mode is 'judge'"):
        load_config(DEMO, ["stages.verify.math.mode=judge"])
    with pytest.raises(ConfigError, match="cannot read pipeline config"):
        load_config(tmp_path / "absent.yaml")


def test_overrides_reach_lists_and_types(tmp_path):
    config = load_config(DEMO, ["stages.sources.sources.0.limit=3", "stages.dedup.enabled=false"])
    assert config.stages.sources.sources[0].limit == 3 and config.stages.dedup.enabled is False


def test_source_row_missing_a_column_names_file_and_column(tmp_path):
    config = demo_config(
        tmp_path,
        f"stages.sources.sources=[{{name: numina_math, path: {DATA / 'numina_missing_problem.jsonl'}}}]",
    )
    with pytest.raises(InputError, match=r"numina_missing_problem\.jsonl.*'problem'"):
        run_pipeline(config, echo=quiet)


@pytest.mark.slow
def test_malformed_test_cases_is_a_recorded_verdict(tmp_path):
    bad = tmp_path / "taco.jsonl"
    good_line = (DEMO.parent / "demo" / "taco.jsonl").read_text().splitlines()[0]
    import json

    record = json.loads(good_line)
    record["input_output"] = '{"inputs": ["1\\n"], "outputs": 5}'
    bad.write_text(json.dumps(record) + "\n")
    # the adapter drops rows whose tests it cannot parse, and counts them
    config = demo_config(
        tmp_path,
        f"stages.sources.sources=[{{name: taco, path: {bad}}}, {{name: riddle_sense, path: {DEMO.parent / 'demo' / 'riddle_sense.jsonl'}, options: {{sample: null}}}}]",
    )
    run_pipeline(config, until="sources", echo=quiet)
    from thoughtmill.curation.pipeline.rundir import RunDir

    summary = RunDir(config).summaries()["sources"]
    assert summary["per_source"]["taco"]["dropped"] == {"malformed_tests": 1}
