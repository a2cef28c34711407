"""The domain registry is open: a domain, or a judging mode of an existing domain, defined here and
registered with one call is picked up end to end (YAML, generation by the replay teacher, its judge,
the summary and the card). A mode the registry does not know is an error when the config loads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from thoughtmill.curation import prompts
from thoughtmill.curation.engine.config import StrictModel
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.judges import (
    DOMAINS,
    Domain,
    Judge,
    Judgement,
    Mode,
    register_domain,
    register_mode,
)
from thoughtmill.curation.judges.base import Rows
from thoughtmill.curation.pipeline.config import PipelineConfig, load_config
from thoughtmill.curation.pipeline.rundir import RunDir
from thoughtmill.curation.pipeline.runner import run_pipeline
from thoughtmill.curation.sources import SOURCES, Source

from tests.pipeline.conftest import DEMO, demo_config, quiet

HAIKUS = [
    ("the old pond", "an old silent pond\na frog jumps into the pond\nsplash! silence again"),
    ("autumn moon", "autumn moonlight\na worm digs silently\ninto the chestnut"),
    ("winter", "just one line about winter"),
]


@pytest.fixture
def registries() -> Iterator[None]:
    """Leave the domain and prompt registries (and the math modes) as they were."""
    domains, user_prompts = dict(DOMAINS), dict(prompts.USER_PROMPTS)
    math_modes = dict(DOMAINS["math"].modes)
    yield
    DOMAINS.clear()
    DOMAINS.update(domains)
    prompts.USER_PROMPTS.clear()
    prompts.USER_PROMPTS.update(user_prompts)
    DOMAINS["math"].modes.clear()
    DOMAINS["math"].modes.update(math_modes)


# ------------------------------------------------------------------ a domain defined in the test


class HaikuSource(Source):
    name = "haiku_file"
    domain = "haiku"
    required_columns: ClassVar[tuple[str, ...]] = ("topic",)

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"problem": row["topic"]}


class HaikuJudgeConfig(StrictModel):
    lines: int = 3


class HaikuJudge(Judge):
    domain = "haiku"

    def __init__(self, config: HaikuJudgeConfig) -> None:
        self.config = config

    def judge(self, rows: Rows) -> Iterator[tuple[str, Judgement]]:
        for row in rows:
            n = len((row.get("deepseek_solution") or "").strip().splitlines())
            ok = n == self.config.lines
            yield row["_key"], Judgement(ok, "haiku" if ok else "not_a_haiku", "line_count", {"lines": n})


def haiku_prompt(row: dict[str, Any]) -> str:
    return f"Write a haiku about {row['problem']}."


def test_a_domain_defined_here_runs_end_to_end(tmp_path, registries, monkeypatch):
    register_domain(Domain("haiku", judge=HaikuJudge, config=HaikuJudgeConfig, prompt=haiku_prompt))
    monkeypatch.setitem(SOURCES, "haiku_file", HaikuSource)
    topics = tmp_path / "topics.jsonl"
    topics.write_text("".join(json.dumps({"topic": t}) + "\n" for t, _ in HAIKUS))
    recorded = tmp_path / "recorded.jsonl"
    recorded.write_text(
        "".join(
            json.dumps({"problem": t, "answer": h, "thinking": "count syllables"}) + "\n" for t, h in HAIKUS
        )
    )
    config = {
        "name": "haiku-run",
        "run_dir": str(tmp_path / "run"),
        "stages": {
            "sources": {"sources": [{"name": "haiku_file", "path": "topics.jsonl"}]},
            "decontaminate": {"enabled": False},
            "generate": {
                "progress": False,
                "teacher": {
                    "provider": "replay", "model": "poet",
                    "replay": {"path": "recorded.jsonl", "key_column": "problem", "content_column": "answer",
                               "reasoning_column": "thinking"},
                },
            },
            "verify": {"haiku": {"lines": 3}},
        },
    }  # fmt: skip
    path = tmp_path / "haiku.yaml"
    path.write_text(yaml.safe_dump(config))

    assert PipelineConfig.model_validate(config).stages.verify.section("haiku") == HaikuJudgeConfig(lines=3)
    run_pipeline(load_config(path), echo=quiet)

    out = tmp_path / "run" / "output"
    rows = {r["problem"]: r for r in datasets.load_from_disk(str(out / "disk" / "unverified")).to_list()}
    assert {t: (r["verified"], r["verdict"], r["verification_method"]) for t, r in rows.items()} == {
        "the old pond": (True, "haiku", "line_count"),
        "autumn moon": (True, "haiku", "line_count"),
        "winter": (False, "not_a_haiku", "line_count"),
    }
    default = pq.read_table(out / "default").to_pylist()
    assert sorted(r["conversations"][0]["value"] for r in default) == [
        "Write a haiku about autumn moon.",
        "Write a haiku about the old pond.",
    ]
    summary = RunDir(load_config(tmp_path / "run")).summaries()["verify"]
    assert summary["verdicts"] == {"haiku": {"haiku": 2, "not_a_haiku": 1}}
    card = (out / "README.md").read_text()
    assert "| haiku | haiku: 2, not_a_haiku: 1 | line_count: 3 |" in card
    assert "| **haiku** | **(all)** | **3** |" in card


# ------------------------------------------------------------------ a mode of an existing domain


def boxed_text_equals(judge: Any, rows: Rows) -> Iterator[tuple[str, Judgement]]:
    """A made-up mode: the last \\boxed{} text must equal the ground truth's, character for character."""

    def boxed(text: str | None) -> str | None:
        text = text or ""
        at = text.rfind("\\boxed{")
        return text[at + 7 : text.find("}", at)] if at >= 0 else None

    for row in rows:
        ok = boxed(row["deepseek_solution"]) == boxed(row["ground_truth_solution"])
        yield row["_key"], Judgement(ok, "same_text" if ok else "other_text", "boxed_text", {})


def test_a_mode_defined_here_runs_end_to_end(tmp_path, registries):
    register_mode("math", Mode("boxed_text", boxed_text_equals))
    numina = DEMO.parent / "demo" / "numina_math.jsonl"
    config = demo_config(
        tmp_path,
        f"stages.sources.sources=[{{name: numina_math, path: {numina}}}]",
        "stages.decontaminate.enabled=false",
        "stages.verify.math.mode=boxed_text",
    )
    run_pipeline(config, echo=quiet)
    out = tmp_path / "run" / "output"
    rows = datasets.load_from_disk(str(out / "disk" / "unverified")).to_list()
    assert rows and {r["verification_method"] for r in rows} == {"boxed_text"}
    assert {r["verdict"] for r in rows} <= {"same_text", "other_text"}
    methods = RunDir(config).summaries()["verify"]["methods"]
    assert methods == {"math": {"boxed_text": len(rows)}}
    assert f"boxed_text: {len(rows)}" in (out / "README.md").read_text()


def test_an_unknown_mode_is_named_when_the_config_loads():
    with pytest.raises(
        ConfigError,
        match=r"stages\.verify\.math\.mode: .*unknown mode 'boxed'; known modes: judge, math_verify, "
        r"math_verify_then_judge",
    ):
        load_config(DEMO, ["stages.verify.math.mode=boxed"])
    with pytest.raises(ConfigError, match=r"stages\.verify\.puzzle\.mode: .*known modes: answer_key, judge"):
        load_config(DEMO, ["stages.verify.puzzle.mode=letter"])
    with pytest.raises(ConfigError, match=r"stages\.verify\.haiku: unknown key"):
        load_config(DEMO, ["stages.verify.haiku.lines=3"])
