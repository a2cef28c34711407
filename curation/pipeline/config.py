"""The pipeline's configuration: pydantic models loaded from one YAML file plus ``key=value`` overrides.

Unknown keys are errors (a typo must not silently fall back to a default), and every error names the
file and the dotted field. Relative paths inside a config are resolved against the config file's
folder, so a config and its data travel together; ``run_dir`` alone is relative to where you run.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, create_model, field_validator, model_validator
from thoughtmill.curation.engine.config import StrictModel, TeacherConfig, format_validation_error
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.judges import DOMAINS
from thoughtmill.curation.pipeline.executors import check_executor_name
from thoughtmill.curation.schema import PROBLEM_COLUMNS
from thoughtmill.curation.sources import SOURCES
from thoughtmill.curation.teachers import (
    TeacherSpec,
    check_credentials,
    expand_named_teacher,
    resolve_teacher,
)
from thoughtmill.curation.utf8 import read_utf8

from thoughtmill.benchmarks import BENCHMARKS, find_benchmark
from thoughtmill.overrides import OverrideError, parse_override, set_path

#: The stages that score questions with a model and keep the best (each has a ``teacher``).
QUESTION_FILTERS = ("difficulty", "response_length")

AS_FILTER = (
    "true: only verified answers of this domain go into the set; false: every answer does, its verdict "
    "kept as metadata (the unverified layout has every answer either way)"
)

#: Stage names in execution order; each is one section of ``stages:``.
STAGE_ORDER = (
    "sources",
    "dedup",
    "decontaminate",
    "mix",
    "difficulty",
    "response_length",
    "generate",
    "verify",
    "write",
    "card",
)


class SourceSpec(StrictModel):
    """One source dataset: which adapter, where it lives, how many rows to read."""

    name: str = Field(description="adapter name, e.g. numina_math, taco, camel_physics, riddle_sense")
    path: str | None = Field(
        None, description="local file or folder; None reads the real dataset from the Hub"
    )
    split: str = "train"
    limit: int | None = Field(None, ge=1, description="read at most this many raw rows")
    streaming: bool = False
    options: dict[str, Any] = Field(
        default_factory=dict, description="adapter options (subsets, per_subtopic...)"
    )

    @field_validator("name")
    @classmethod
    def _registered_source(cls, value: str) -> str:
        return _known(value, SOURCES, "source")


class SourcesConfig(StrictModel):
    sources: list[SourceSpec] = Field(min_length=1)
    limit_per_source: int | None = Field(
        None, ge=1, description="cap on kept rows per source (after filters)"
    )


class DedupConfig(StrictModel):
    enabled: bool = True
    column: str = "problem"
    threshold: float = Field(
        95.0, gt=0, le=100, description="rapidfuzz ratio at or above which rows are duplicates"
    )
    by: str | None = Field("domain", description="compare only rows sharing this column's value")

    @field_validator("column", "by")
    @classmethod
    def _problem_column(cls, value: str | None) -> str | None:
        return value if value is None else _known(value, PROBLEM_COLUMNS, "column")


class DecontaminateConfig(StrictModel):
    enabled: bool = True
    benchmarks: list[str] = Field(
        default_factory=lambda: list(BENCHMARKS), description="registered benchmark names (any spelling)"
    )
    local_files: dict[str, str] = Field(default_factory=dict, description="benchmark name -> local file")
    method: Literal["fuzzy", "ngram", "both"] = "fuzzy"
    threshold: float = Field(95.0, gt=0, le=100)
    ngram: int = Field(13, ge=1)

    @field_validator("benchmarks")
    @classmethod
    def _registered_benchmarks(cls, names: list[str]) -> list[str]:
        unknown = [name for name in names if find_benchmark(name) is None]
        if unknown:
            raise ValueError(f"unknown benchmark(s) {unknown}; registered: {', '.join(BENCHMARKS)}")
        return names


class MixConfig(StrictModel):
    """``stages.mix``: per domain, the top-N sources (best first) and an equal share from each
    (OpenThoughts3: one or two sources per domain beat many)."""

    enabled: bool = False
    domains: list[str] | None = Field(None, description="domains to mix; others pass through (None: all)")
    sources_per_domain: int = Field(2, ge=1, description="keep the N best-ranked sources of each domain")
    ranking: dict[str, list[str]] = Field(
        default_factory=dict,
        description="domain -> `source` values, best first; a domain not named ranks its sources in "
        "the order they first appear (the order of stages.sources)",
    )
    questions_per_domain: int | dict[str, int] | None = Field(
        None,
        description="questions kept per domain, split equally over its sources (None: as many as the "
        "smallest chosen source has, from each)",
    )
    seed: int = Field(0, description="which rows make a source's share: a seeded hash of the row id")

    @field_validator("domains")
    @classmethod
    def _registered_domains(cls, value: list[str] | None) -> list[str] | None:
        return value if value is None else [_known(name, DOMAINS, "domain") for name in value]

    @field_validator("ranking", "questions_per_domain")
    @classmethod
    def _registered_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name in value:
                _known(name, DOMAINS, "domain")
        counts = value.values() if isinstance(value, dict) else [value]
        if any(isinstance(n, int) and n < 1 for n in counts):
            raise ValueError("questions per domain must be at least 1")
        return value

    def share_of(self, domain: str) -> int | None:
        """Questions to keep for ``domain`` (None: balanced to the smallest chosen source)."""
        total = self.questions_per_domain
        return total.get(domain) if isinstance(total, dict) else total


class KeepRule(StrictModel):
    """Which scored questions a filter keeps, within each domain: exactly one of the three."""

    top_fraction: float | None = Field(None, gt=0, le=1, description="the best-scoring fraction")
    top_n: int | None = Field(None, ge=1, description="the N best-scoring questions")
    threshold: float | None = Field(None, description="every question scoring at least this")

    @model_validator(mode="after")
    def _exactly_one(self) -> KeepRule:
        given = [name for name in ("top_fraction", "top_n", "threshold") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of top_fraction, top_n, threshold (got {given or 'none'})")
        return self


class QuestionFilterConfig(StrictModel):
    """A question filter that scores each question of some domains with a model through the engine
    (cached, resumable) and keeps the best-scoring ones per domain."""

    enabled: bool = False
    domains: list[str] = Field(description="domains this filter scores; other rows pass through")
    teacher: TeacherSpec | None = Field(None, description="the scoring model (required when enabled)")
    keep: KeepRule | dict[str, KeepRule] = Field(
        default_factory=lambda: KeepRule(top_fraction=0.5),
        description="one rule for every domain, or one per domain ({math: {top_n: 1000}, science: ...})",
    )
    max_in_flight: int | None = Field(None, ge=1)
    progress: bool = True

    @field_validator("domains")
    @classmethod
    def _registered_domains(cls, value: list[str]) -> list[str]:
        return [_known(name, DOMAINS, "domain") for name in value]

    @field_validator("teacher")
    @classmethod
    def _teacher_loads(cls, value: TeacherSpec | None) -> TeacherSpec | None:
        if isinstance(value, dict):
            TeacherConfig.from_dict(value, source="teacher")
        return value

    @model_validator(mode="after")
    def _teacher_when_enabled(self) -> QuestionFilterConfig:
        if self.enabled and self.teacher is None:
            raise ValueError("an enabled question filter needs a `teacher` (the model that scores questions)")
        if isinstance(self.keep, dict):
            missing = [name for name in self.domains if name not in self.keep]
            if missing or set(self.keep) - set(self.domains):
                raise ValueError(
                    f"keep: one rule per domain of `domains` {self.domains} (got {sorted(self.keep)})"
                )
        return self

    def rule_for(self, domain: str) -> KeepRule:
        """The keep rule of one domain."""
        return self.keep[domain] if isinstance(self.keep, dict) else self.keep


class DifficultyConfig(QuestionFilterConfig):
    """``stages.difficulty``: a judge model rates each question 1-10 (OpenThoughts3 does this for code)."""

    domains: list[str] = Field(default_factory=lambda: ["code"])


class ResponseLengthConfig(QuestionFilterConfig):
    """``stages.response_length``: a cheap model answers each question; the questions with the longest
    answers are kept (OpenThoughts3 does this for math and science)."""

    domains: list[str] = Field(default_factory=lambda: ["math", "science"])
    measure: Literal["completion_tokens", "characters"] = Field(
        "completion_tokens",
        description="how an answer's length is counted (tokens as the model reports them)",
    )


class GenerateConfig(StrictModel):
    teacher: TeacherSpec = Field(description="bundled teacher name, YAML path or inline teacher mapping")
    max_in_flight: int | None = Field(None, ge=1)
    progress: bool = True
    samples_per_question: int | dict[str, int] = Field(
        1,
        description="answers per question: one number, or per domain ({code: 16, default: 4}; "
        "a domain not named gets `default`, else 1); each answer is its own request and row",
    )

    @field_validator("samples_per_question")
    @classmethod
    def _samples(cls, value: int | dict[str, int]) -> int | dict[str, int]:
        counts = value.values() if isinstance(value, dict) else [value]
        if any(n < 1 for n in counts):
            raise ValueError("samples_per_question must be at least 1")
        if isinstance(value, dict):
            for name in value:
                if name != "default":
                    _known(name, DOMAINS, "domain")
        return value

    def samples_for(self, domain: str) -> int:
        """How many answers each question of ``domain`` gets."""
        spq = self.samples_per_question
        return spq if isinstance(spq, int) else spq.get(domain, spq.get("default", 1))

    @field_validator("teacher")
    @classmethod
    def _teacher_loads(cls, value: TeacherSpec) -> TeacherSpec:
        if isinstance(value, dict):
            TeacherConfig.from_dict(value, source="stages.generate.teacher")
        return value


class VerifyConfig(StrictModel):
    """``stages.verify``: one section per registered domain (that domain's judge config model, built by
    ``pipeline_model``), plus the settings that apply to every domain."""

    reject_truncated: bool = Field(True, description="an answer cut at max_tokens is never verified")

    def section(self, domain: str) -> BaseModel:
        """The config of one domain's judge: its section as the judge's own config model (without
        ``as_filter``, which is the write stage's business)."""
        value = getattr(self, domain)
        judge_config = DOMAINS[domain].config
        if type(value) is judge_config:
            return value
        return judge_config.model_validate(value.model_dump(exclude={"as_filter"}))

    def sections(self) -> dict[str, BaseModel]:
        """Every domain's judge config, by domain name."""
        return {name: self.section(name) for name in self._domains()}

    def metadata_only(self) -> list[str]:
        """Domains whose verdict is metadata, not a filter (``as_filter: false``): their unverified
        answers stay in the set (OpenThoughts3 filters no answers)."""
        return [name for name in self._domains() if not getattr(getattr(self, name), "as_filter", True)]

    def _domains(self) -> list[str]:
        return [name for name in DOMAINS if name in type(self).model_fields]


class WriteConfig(StrictModel):
    formats: list[Literal["parquet", "disk"]] = Field(default_factory=lambda: ["parquet", "disk"])
    push_to_hub: str | None = Field(None, description="Hub repo id to push the verified set to")
    private: bool = True
    rows_per_file: int = Field(50_000, ge=1)


class CardConfig(StrictModel):
    enabled: bool = True
    title: str | None = None


class StagesConfig(StrictModel):
    sources: SourcesConfig
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    decontaminate: DecontaminateConfig = Field(default_factory=DecontaminateConfig)
    mix: MixConfig = Field(default_factory=MixConfig)
    difficulty: DifficultyConfig = Field(default_factory=DifficultyConfig)
    response_length: ResponseLengthConfig = Field(default_factory=ResponseLengthConfig)
    generate: GenerateConfig
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    write: WriteConfig = Field(default_factory=WriteConfig)
    card: CardConfig = Field(default_factory=CardConfig)


class ExecutorConfig(StrictModel):
    """``executor:``: where sharded stages (generate, verify) run; ``executor: ray`` alone works too.

    Changing it never re-runs a finished stage (the rows are the same wherever they are computed)."""

    name: str = Field("local", description="a registered executor: local (this process) or ray")
    address: str | None = Field(None, description="ray: the cluster address; None = RAY_ADDRESS")
    shards: int | None = Field(
        None, ge=1, description="shards per sharded stage; None = 1 (local) or the cluster's CPUs (ray)"
    )
    cpus_per_shard: float = Field(1.0, gt=0, description="ray: CPUs reserved by each shard's task")
    max_retries: int = Field(3, ge=0, description="ray: times a shard whose worker died is run again")

    @model_validator(mode="before")
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        """``executor: ray`` is ``executor: {name: ray}``; a mapping must name its executor, so that
        ``executor=ray executor.shards=8`` on the command line (the second override replaces the
        name by a section) is an error, not a silent ``local``."""
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict) and value and "name" not in value:
            raise ValueError(
                "executor settings need the executor's name beside them, e.g. executor.name=ray "
                "executor.shards=8 (executor=ray alone is the short form without settings)"
            )
        return value

    @field_validator("name")
    @classmethod
    def _registered_executor(cls, value: str) -> str:
        return check_executor_name(value)

    def options(self) -> dict[str, Any]:
        """What the executor's constructor takes (the settings it was given, besides its name)."""
        return self.model_dump(exclude={"name"})


class PipelineConfig(StrictModel):
    """A whole run: where it lives and what each stage does."""

    name: str
    run_dir: str = Field(description="run directory (resolved config, cache, stage outputs)")
    cache_dir: str | None = Field(None, description="engine cache folder; default RUN_DIR/cache")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    budget_usd: float | None = Field(
        None,
        ge=0,
        description="hard cap in US dollars on what the run's generated answers cost, earlier invocations "
        "included: generation stops sending before crossing it (raise it and run again to finish)",
    )
    stages: StagesConfig

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> PipelineConfig:  # type: ignore[override]
        """Validated against the domains registered now (``stages.verify`` has one section each)."""
        if cls is PipelineConfig:
            return pipeline_model().model_validate(obj, **kwargs)
        return super().model_validate(obj, **kwargs)

    def stage(self, name: str) -> StrictModel:
        return getattr(self.stages, name)

    def teachers(self) -> dict[str, TeacherSpec]:
        """Every teacher the run will use (question filters, generation and judges), by its config field."""
        filters = {
            f"stages.{name}.teacher": section.teacher
            for name in QUESTION_FILTERS
            if (section := self.stage(name)).enabled and section.teacher is not None
        }
        return {**filters, "stages.generate.teacher": self.stages.generate.teacher, **self.judge_teachers()}

    def check_credentials(self) -> None:
        """Every teacher's API key is there (generation and judges): checked when a run starts, before
        anything is paid for; inspecting a config or a run directory needs no key."""
        for where, spec in self.teachers().items():
            check_credentials(resolve_teacher(spec, where), where)

    def check_judges_can_run(self) -> None:
        """Each judge the configured sources will need can run here (``Judge.preflight``): checked when
        a run that reaches verify starts, so a host that cannot isolate code fails before generation."""
        verify = self.stages.verify
        for domain in self.source_domains():
            if domain in DOMAINS:
                DOMAINS[domain].judge.preflight(verify.section(domain))

    def source_domains(self) -> list[str]:
        """The domains the configured sources produce (a registered source declares its domain)."""
        found = (getattr(SOURCES.get(spec.name), "domain", None) for spec in self.stages.sources.sources)
        return list(dict.fromkeys(d for d in found if d))

    def judge_teachers(self) -> dict[str, TeacherSpec]:
        """Every judge teacher the verify stage will use, by its config field."""
        return {
            f"stages.verify.{name}.judge_teacher": spec
            for name, section in self.stages.verify.sections().items()
            if (spec := getattr(section, "judge_teacher", None)) is not None
        }

    def fingerprint(self, name: str) -> str:
        """Hash of one stage's settings (the ``settings`` part of its fingerprint; what the settings
        resolve to is added by ``pipeline.fingerprint``).

        ``stages.verify.<domain>.as_filter`` decides what the write stage keeps, not a verdict: it
        counts as a write setting, so turning it re-writes the set without judging anything again."""
        settings = self.stage(name).model_dump(mode="json")
        if name == "verify":
            for domain in settings:
                if isinstance(settings[domain], dict):
                    settings[domain].pop("as_filter", None)
        if name == "write" and (metadata_only := self.stages.verify.metadata_only()):
            settings["verdict_as_metadata"] = metadata_only
        text = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------------------------- loading


def load_config(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    """Read a pipeline YAML, apply ``key=value`` overrides, resolve relative paths, validate."""
    path = Path(path)
    run_dir = path if path.is_dir() else None
    if run_dir is not None:  # a run directory: its resolved config, and it is the run directory
        path = run_dir / "config.yaml"
    try:
        data = yaml.safe_load(read_utf8(path, ConfigError))
    except OSError as exc:
        raise ConfigError(f"cannot read pipeline config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"pipeline config {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"pipeline config {path}: expected a mapping at the top level")
    if run_dir is not None:  # a copied run directory is its own run, never the original's
        data["run_dir"] = str(run_dir)
    try:
        for item in overrides or []:
            key, value = parse_override(item)
            expand_named_teacher(data, key, path.parent)  # one field of a named teacher
            set_path(data, key, value)
    except OverrideError as exc:
        raise ConfigError(str(exc)) from None
    return config_from_dict(data, base=path.parent, source=str(path))


def config_from_dict(
    data: dict[str, Any], *, base: Path | None = None, source: str = "<dict>"
) -> PipelineConfig:
    """Validate a config mapping; relative data paths are taken relative to ``base``."""
    data = copy.deepcopy(data)
    if base is not None:
        _resolve_paths(data, base)
    try:
        config = pipeline_model().model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"pipeline config {source}: {format_validation_error(exc)}") from exc
    except ConfigError as exc:
        raise ConfigError(f"pipeline config {source}: {exc}") from exc
    _check_teachers(config, source)
    return config


def _known(value: str, known: Any, what: str) -> str:
    """``value`` if it is one of ``known``, else an error listing them (strict enum-like settings)."""
    if value not in known:
        raise ValueError(f"unknown {what} {value!r}; known: {', '.join(known)}")
    return value


def pipeline_model() -> type[PipelineConfig]:
    """The config model for the domains registered now: ``stages.verify`` gets one section per domain,
    validated by that domain's judge config model (so a domain or mode added at run time is checked
    as strictly as the built-in ones)."""
    return _pipeline_model(tuple((name, domain.config) for name, domain in DOMAINS.items()))


@functools.cache
def _pipeline_model(sections: tuple[tuple[str, type[BaseModel]], ...]) -> type[PipelineConfig]:
    clash = [name for name, _ in sections if hasattr(VerifyConfig, name)]
    if clash:
        raise ConfigError(f"domain name(s) {clash} clash with a setting of stages.verify; rename the domain")
    fields: dict[str, Any] = {}
    for name, model in sections:
        section = create_model(
            model.__name__, __base__=model, as_filter=(bool, Field(True, description=AS_FILTER))
        )
        fields[name] = (section, Field(default_factory=section))
    verify = create_model("VerifyConfig", __base__=VerifyConfig, **fields)
    stages = create_model(
        "StagesConfig", __base__=StagesConfig, verify=(verify, Field(default_factory=verify))
    )
    return create_model("PipelineConfig", __base__=PipelineConfig, stages=(stages, ...))


def _check_teachers(config: PipelineConfig, source: str) -> None:
    """Load every teacher the run will use now, so a bad name fails before hours of work."""
    try:
        for where, spec in config.teachers().items():
            resolve_teacher(spec, where)
    except ConfigError as exc:
        raise ConfigError(f"pipeline config {source}: {exc}") from exc


def _abs(value: Any, base: Path) -> Any:
    if isinstance(value, str) and value and not Path(value).is_absolute() and (base / value).exists():
        return str((base / value).resolve())
    return value


def _resolve_teacher_paths(spec: Any, base: Path) -> Any:
    if isinstance(spec, str):
        return _abs(spec, base)
    if isinstance(spec, dict) and isinstance(spec.get("replay"), dict):
        spec["replay"]["path"] = _abs(spec["replay"].get("path"), base)
    return spec


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the config's data paths absolute when they exist relative to the config's folder."""
    stages = data.get("stages")
    if not isinstance(stages, dict):
        return
    sources = stages.get("sources")
    if isinstance(sources, dict) and isinstance(sources.get("sources"), list):
        for spec in sources["sources"]:
            if isinstance(spec, dict) and "path" in spec:
                spec["path"] = _abs(spec["path"], base)
    decon = stages.get("decontaminate")
    if isinstance(decon, dict) and isinstance(decon.get("local_files"), dict):
        decon["local_files"] = {k: _abs(v, base) for k, v in decon["local_files"].items()}
    for name in ("generate", *QUESTION_FILTERS):
        section = stages.get(name)
        if isinstance(section, dict) and section.get("teacher") is not None:
            section["teacher"] = _resolve_teacher_paths(section["teacher"], base)
    verify = stages.get("verify")
    if isinstance(verify, dict):
        for judge in verify.values():
            if isinstance(judge, dict) and judge.get("judge_teacher") is not None:
                judge["judge_teacher"] = _resolve_teacher_paths(judge["judge_teacher"], base)
