"""A run directory you can bet a long run on (issue 12): resume re-runs what changed underneath and
says why, a copied run directory is its own, bad configs and keys fail before anything is paid for,
and a run that dies says so in summary.json. Real files and a real ``thoughtmill run`` subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import yaml
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.pipeline.config import STAGE_ORDER, load_config
from thoughtmill.curation.pipeline.runner import run_pipeline, run_status

from tests.pipeline.conftest import DEMO, quiet

NUMINA = DEMO.parent / "demo" / "numina_math.jsonl"
TRACES = DEMO.parent / "demo" / "recorded_traces.jsonl"
MATH500 = DEMO.parent / "demo" / "benchmarks" / "math500.jsonl"


def small_run(tmp_path: Path, **stages) -> Path:
    """A math-only run from files in ``tmp_path``: a copy of the demo's NuminaMath rows (the first one
    left out, to be appended later), a teacher YAML (replay of the demo's recorded answers) named by
    path. Returns the pipeline YAML."""
    (tmp_path / "numina.jsonl").write_text("".join(NUMINA.read_text().splitlines(keepends=True)[1:]))
    teacher = {
        "name": "recorded", "provider": "replay", "model": "deepseek-reasoner",
        "replay": {"path": str(TRACES), "key_column": "problem", "content_column": "deepseek_solution",
                   "reasoning_column": "deepseek_reasoning"},
    }  # fmt: skip
    (tmp_path / "teacher.yaml").write_text(yaml.safe_dump(teacher))
    config = {
        "name": "trust",
        "run_dir": str(tmp_path / "run"),
        "stages": {
            "sources": {"sources": [{"name": "numina_math", "path": "numina.jsonl"}]},
            "decontaminate": {"benchmarks": ["math500"], "local_files": {"math500": str(MATH500)}},
            "generate": {"progress": False, "teacher": "teacher.yaml"},
            **stages,
        },
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class Echo(list):
    def __call__(self, line: str) -> None:
        self.append(line)


def generated(run: Path) -> list[dict]:
    return datasets.load_from_disk(str(run / "generate" / "engine" / "dataset")).to_list()


# ------------------------------------------------------------------ stale resume


def test_a_teacher_yaml_edited_in_place_reruns_generate_and_says_why(tmp_path):
    path = small_run(tmp_path)
    run_pipeline(load_config(path), echo=quiet)
    assert {r["teacher"] for r in generated(tmp_path / "run")} == {"deepseek-reasoner"}

    teacher = yaml.safe_load((tmp_path / "teacher.yaml").read_text())
    teacher["model"] = "deepseek-r1-0528"  # the same file name, another model
    (tmp_path / "teacher.yaml").write_text(yaml.safe_dump(teacher))
    echo = Echo()
    report = run_pipeline(load_config(path), echo=echo)

    assert report["sources"]["status"] == "skipped" and report["generate"]["status"] == "ran"
    assert any(
        line.startswith("[generate] running (the teacher stages.generate.teacher names resolves to another")
        for line in echo
    ), echo
    assert {r["teacher"] for r in generated(tmp_path / "run")} == {"deepseek-r1-0528"}
    assert [r["state"] for r in run_status(tmp_path / "run")] == ["done"] * len(STAGE_ORDER)


def test_rows_appended_to_a_source_file_rerun_sources_and_say_why(tmp_path):
    path = small_run(tmp_path)
    first = run_pipeline(load_config(path), echo=quiet)
    rows_before = len(generated(tmp_path / "run"))
    assert first["sources"]["status"] == "ran"

    with open(tmp_path / "numina.jsonl", "a") as handle:  # a row the recorded teacher has an answer for
        handle.write(NUMINA.read_text().splitlines(keepends=True)[0])
    assert run_status(tmp_path / "run")[0]["state"].startswith(
        "stale (the file stages.sources.sources.0.path names changed"
    )
    echo = Echo()
    report = run_pipeline(load_config(path), echo=echo)
    assert report["sources"]["status"] == "ran"
    assert (
        "[sources] running (the file stages.sources.sources.0.path names changed (size or contents))" in echo
    )
    assert "[generate] running (its input changed (an earlier stage ran again))" in echo
    assert len(generated(tmp_path / "run")) == rows_before + 1

    os.utime(tmp_path / "numina.jsonl")  # touched, same bytes: nothing to redo
    again = run_pipeline(load_config(path), echo=quiet)
    assert {s["status"] for s in again.values()} == {"skipped"}


def test_a_copied_run_directory_reads_its_own_outputs(tmp_path):
    path = small_run(tmp_path)
    run_pipeline(load_config(path), echo=quiet)
    original, copy = tmp_path / "run", tmp_path / "copy"
    shutil.copytree(original, copy)
    shutil.rmtree(original)

    for marker in copy.glob("*/_done.json"):
        assert str(original) not in marker.read_text(), f"{marker} names the original run directory"
    report = run_pipeline(load_config(copy), force=["verify"], echo=quiet)
    assert report["generate"]["status"] == "skipped" and report["verify"]["status"] == "ran"
    assert not original.exists(), "the copy wrote into the original's run directory"
    assert (copy / "verify" / "verified.arrow").exists()
    assert [r["state"] for r in run_status(copy)] == ["done"] * len(STAGE_ORDER)


# ------------------------------------------------------------------ fail before paying


def thoughtmill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real command, as a user runs it."""
    command = [sys.executable, "-c", "from thoughtmill.curation.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def test_a_misspelt_comparison_mode_fails_when_the_config_loads(tmp_path):
    path = small_run(tmp_path)
    done = thoughtmill("run", str(path), "stages.verify.code.mode=strcit")
    assert done.returncode == 1
    assert "stages.verify.code.mode" in done.stderr and "unknown comparison mode 'strcit'" in done.stderr
    assert "known modes: strict, lenient" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists(), "nothing may run before the config is valid"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stages.verify.code.mode=strcit", r"stages\.verify\.code\.mode: .*unknown comparison mode 'strcit'"),
        ("stages.verify.math.mode=math-verify", r"stages\.verify\.math\.mode: .*unknown mode 'math-verify'"),
        ("stages.verify.puzzle.mode=key", r"stages\.verify\.puzzle\.mode: .*known modes: answer_key, judge"),
        (
            "stages.sources.sources.0.name=numina",
            r"stages\.sources\.sources\.0\.name: .*unknown source 'numina'",
        ),
        (
            "stages.dedup.by=domian",
            r"stages\.dedup\.by: .*unknown column 'domian'; known: id, problem, domain",
        ),
        (
            "stages.decontaminate.benchmarks=[aime24, aime2O24]",
            r"decontaminate\.benchmarks: .*\['aime2O24'\]",
        ),
        ("stages.decontaminate.method=fuzzzy", r"stages\.decontaminate\.method: "),
        ("stages.write.formats=[parket]", r"stages\.write\.formats\.0: "),
    ],
)
def test_every_enum_like_setting_is_checked_when_the_config_loads(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(small_run(tmp_path), [override])


def test_every_missing_api_key_fails_before_any_stage_runs(tmp_path):
    path = small_run(tmp_path)
    judge = {"name": "judge", "provider": "openai", "model": "gpt-4o-mini",
             "base_urls": ["http://127.0.0.1:9/v1"], "api_key_env": "THOUGHTMILL_TEST_JUDGE_KEY"}  # fmt: skip
    (tmp_path / "judge.yaml").write_text(yaml.safe_dump(judge))
    env = {k: v for k, v in os.environ.items() if k != "THOUGHTMILL_TEST_JUDGE_KEY"}
    done = thoughtmill(
        "run", str(path), "stages.verify.math.mode=judge", f"stages.verify.math.judge_teacher={tmp_path / 'judge.yaml'}",
        env=env,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert "stages.verify.math.judge_teacher" in done.stderr
    assert "THOUGHTMILL_TEST_JUDGE_KEY is not set" in done.stderr
    assert "[sources] running" not in done.stdout and not (tmp_path / "run" / "sources").exists()

    generation = {**judge, "name": "gen", "api_key_env": "THOUGHTMILL_TEST_GEN_KEY"}
    with pytest.raises(
        ConfigError, match=r"stages\.generate\.teacher: .*THOUGHTMILL_TEST_GEN_KEY is not set"
    ):
        run_pipeline(load_config(path, [f"stages.generate.teacher={json.dumps(generation)}"]), echo=quiet)


def test_non_utf8_inputs_name_the_file_and_line(tmp_path):
    path = small_run(tmp_path)
    with open(tmp_path / "numina.jsonl", "ab") as handle:
        handle.write(b'{"source": "amc_aime", "problem": "caf\xe9", "solution": "\\\\boxed{1}"}\n')
    lines = (tmp_path / "numina.jsonl").read_bytes().splitlines()
    done = thoughtmill("run", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    column = lines[-1].index(b"\xe9") + 1
    assert f"numina.jsonl: line {len(lines)}, byte {column} is not UTF-8 text" in done.stderr

    bad_config = tmp_path / "latin1.yaml"
    bad_config.write_bytes(path.read_bytes().replace(b"name: trust", b"name: caf\xe9"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: line \d+, byte 10 is not UTF-8 text"):
        load_config(bad_config)


def test_summary_json_records_the_fatal_error_of_a_run_that_died(tmp_path):
    path = small_run(tmp_path)
    (tmp_path / "numina.jsonl").write_text(json.dumps({"source": "amc_aime", "solution": "x"}) + "\n")
    done = thoughtmill("run", str(path))
    assert done.returncode == 1
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"]["stage"] == "sources"
    assert summary["error"]["type"] == "InputError" and "'problem'" in summary["error"]["message"]

    shutil.copy(NUMINA, tmp_path / "numina.jsonl")
    assert thoughtmill("run", str(path)).returncode == 0, "the same command, once the file is fixed"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["error"] is None
    assert summary["stages"]["card"]["status"] == "ran"


# ------------------------------------------------------------------ transient verification failures


def test_force_verify_judges_every_row_again(tmp_path):
    path = small_run(tmp_path)
    run_pipeline(load_config(path), echo=quiet)
    (journal,) = (tmp_path / "run" / "verify").glob("journal-*.jsonl")
    wrong = next(
        r for r in datasets.Dataset.from_file(str(tmp_path / "run" / "verify" / "verified.arrow")).to_list()
        if r["verdict"] == "incorrect"
    )  # fmt: skip
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    key = next(r["key"] for r in records if r["verdict"] == "incorrect")
    with open(journal, "a") as handle:  # a stale verdict for that answer (say, from a broken judge)
        handle.write(json.dumps({**records[0], "key": key, "verified": True, "verdict": "correct"}) + "\n")

    report = run_pipeline(load_config(path), force=["verify"], echo=quiet)
    assert report["verify"] == {**report["verify"], "status": "ran", "reason": "--force"}
    out = {r["id"]: r for r in datasets.Dataset.from_file(str(journal.parent / "verified.arrow")).to_list()}
    assert (out[wrong["id"]]["verified"], out[wrong["id"]]["verdict"]) == (False, "incorrect")
    summary = json.loads((tmp_path / "run" / "verify" / "_done.json").read_text())["summary"]
    assert summary["resumed_judgements"] == 0


SLOW_SUM = (
    "```python\nimport time\ntime.sleep(1.0)\nn = int(input())\nprint(sum(map(int, input().split())))\n```"
)


@pytest.mark.slow
def test_a_killed_judge_worker_is_retried_next_run_never_journaled_as_a_verdict(tmp_path):
    from thoughtmill.execution.batch import RETRIES

    from tests.execution.test_hostile_verdicts import Saboteur

    (tmp_path / "taco.jsonl").write_text(
        (DEMO.parent / "demo" / "taco.jsonl").read_text().splitlines()[0] + "\n"
    )
    trace = next(
        json.loads(line) for line in TRACES.read_text().splitlines() if line.startswith('{"problem": "Sum of an array')
    )  # fmt: skip
    (tmp_path / "traces.jsonl").write_text(json.dumps({**trace, "deepseek_solution": SLOW_SUM}) + "\n")
    teacher = {"provider": "replay", "model": "r1", "replay": {"path": str(tmp_path / "traces.jsonl"),
               "key_column": "problem", "content_column": "deepseek_solution"}}  # fmt: skip
    config = load_config(
        small_run(tmp_path),
        [
            f"stages.sources.sources=[{{name: taco, path: {tmp_path / 'taco.jsonl'}}}]",
            f"stages.generate.teacher={json.dumps(teacher)}",
            "stages.verify.code={time_s: 5, total_time_s: 30, workers: 1}",
        ],
    )
    saboteur = Saboteur(9, times=RETRIES + 1)  # SIGKILL every attempt the batch makes
    saboteur.start()
    try:
        report = run_pipeline(config, echo=quiet)
    finally:
        saboteur.stop.set()
        saboteur.join()
    assert len(saboteur.hit) == RETRIES + 1
    assert report["verify"]["status"] == "incomplete"
    (row,) = datasets.Dataset.from_file(str(tmp_path / "run" / "verify" / "verified.arrow")).to_list()
    assert (row["verified"], row["verdict"]) == (False, "sandbox_error")
    assert json.loads(row["verification_detail"])["infrastructure_failure"] is True
    (journal,) = (tmp_path / "run" / "verify").glob("journal-*.jsonl")
    assert all(json.loads(line)["retry"] for line in journal.read_text().splitlines())

    echo = Echo()
    report = run_pipeline(config, echo=echo)
    assert "[verify] running (incomplete last time: retrying what failed)" in echo
    assert report["generate"]["status"] == "skipped" and report["verify"]["status"] == "ran"
    (row,) = datasets.Dataset.from_file(str(tmp_path / "run" / "verify" / "verified.arrow")).to_list()
    assert (row["verified"], row["verdict"]) == (True, "accepted")
