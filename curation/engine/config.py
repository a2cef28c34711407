"""Teacher configuration: everything about a teacher lives here, so swapping one is a one-file change.

A `TeacherConfig` is loaded from YAML (``configs/teachers/*.yaml``). It names the environment variable
that holds the API key, never the key itself, so configs can be committed and shared.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from thoughtmill.curation.errors import ConfigError

from thoughtmill.resources import bundled_config

Provider = Literal["openai", "vllm", "replay"]


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors, not silently ignored typos."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Pricing(StrictModel):
    """Prices in US dollars per million tokens, for live cost and projections."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0
    cached_input_per_million: float | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollar cost of one call's usage."""
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


class RetryConfig(StrictModel):
    """How hard to try before a row is recorded as failed."""

    max_attempts: int = Field(8, ge=1, description="attempts per request, the first included")
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(120.0, gt=0)
    max_invalid_structured: int = Field(
        2, ge=0, description="re-asks when a structured reply fails validation"
    )


class ReplayConfig(StrictModel):
    """Where recorded responses come from, for the replay backend."""

    path: str
    key_column: str = Field("prompt", description="column holding the text a request is matched on")
    content_column: str = "content"
    reasoning_column: str | None = "reasoning_content"
    finish_reason_column: str | None = None


class TeacherConfig(StrictModel):
    """One teacher model and how to talk to it."""

    name: str | None = Field(None, description="a label for logs; defaults to the model id")
    provider: Provider = "openai"
    model: str
    base_urls: list[str] = Field(default_factory=list, description="one or more replicas of one endpoint")
    api_key_env: str | None = Field(None, description="name of the environment variable holding the key")
    generation: dict[str, Any] = Field(
        default_factory=dict, description="temperature, max_tokens, top_p, ..."
    )
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    max_concurrency: int = Field(64, ge=1)
    timeout_s: float = Field(1800.0, gt=0, description="one request, connect to last byte")
    connect_timeout_s: float = Field(30.0, gt=0)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    pricing: Pricing = Field(default_factory=Pricing)
    structured_output: Literal["json_schema", "json_object", "prompt"] = Field(
        "json_schema",
        description="how a response_format is asked for: API json_schema, json_object, or in the prompt",
    )
    on_length: Literal["keep", "retry", "drop"] = Field(
        "keep", description="what to do with an answer cut by max_tokens (finish_reason == 'length')"
    )
    tokenizer: str | None = Field(
        None, description="HF tokenizer id/path for token estimates; heuristic if absent"
    )
    cache_namespace: str | None = Field(
        None,
        description="share cached answers across endpoints; default: the endpoint identity is in the key",
    )
    extra_headers: dict[str, str] = Field(default_factory=dict)
    replay: ReplayConfig | None = None
    vllm: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for vllm.LLM (offline)")

    @field_validator("base_urls")
    @classmethod
    def _strip_slashes(cls, urls: list[str]) -> list[str]:
        return [u.rstrip("/") for u in urls]

    @model_validator(mode="after")
    def _provider_needs(self) -> TeacherConfig:
        if self.provider == "openai" and not self.base_urls:
            raise ValueError("provider 'openai' needs base_urls (e.g. ['https://api.deepseek.com/v1'])")
        if self.provider == "replay" and self.replay is None:
            raise ValueError("provider 'replay' needs a 'replay:' section with the recorded file's path")
        return self

    @property
    def label(self) -> str:
        return self.name or self.model

    def api_key(self) -> str | None:
        """Read the key from the environment at call time; it is never stored on the config."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(
                f"teacher '{self.label}': environment variable {self.api_key_env} is not set "
                f"(it should hold the API key for {self.base_urls[0] if self.base_urls else self.provider})"
            )
        return key

    def endpoint_identity(self) -> str:
        """What distinguishes this endpoint in cache keys (replicas of one teacher share it)."""
        if self.cache_namespace:
            return f"ns:{self.cache_namespace}"
        if self.provider == "openai":
            return "openai:" + ",".join(sorted(self.base_urls))
        if self.provider == "replay" and self.replay is not None:
            # another recording, or the same file re-recorded, must not be served from old entries
            path = Path(self.replay.path).resolve()
            stat = path.stat() if path.exists() else None
            version = f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "missing"
            return f"replay:{path}:{version}"
        # offline vLLM: engine arguments such as dtype or max_model_len can change the answers
        return f"{self.provider}:{json.dumps(self.vllm, sort_keys=True)}"

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> TeacherConfig:
        """Load a teacher from a YAML file, applying dotted overrides (``generation.temperature=0.6``)."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read teacher config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"teacher config {path}: expected a mapping at the top level")
        for key, value in (overrides or {}).items():
            set_dotted(data, key, value)
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> TeacherConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"teacher config {source}: {format_validation_error(exc)}") from exc


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts, creating levels as needed."""
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: the dotted field and what was wrong, in plain words."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<top level>"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against the documented fields)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        lines.append(f"{loc}: {msg}")
    return "; ".join(lines)


def load_teacher(spec: TeacherConfig | str | Path | dict[str, Any]) -> TeacherConfig:
    """Accept a config object, a YAML path, a bundled name (``deepseek-r1``) or a dict."""
    if isinstance(spec, TeacherConfig):
        return spec
    if isinstance(spec, dict):
        return TeacherConfig.from_dict(spec)
    path = Path(spec)
    if not path.exists():
        bundled = bundled_teachers_dir() / f"{spec}.yaml"
        if bundled.exists():
            path = bundled
        else:
            raise ConfigError(
                f"teacher '{spec}': no such file, and no bundled teacher of that name "
                f"(bundled: {', '.join(sorted(p.stem for p in bundled_teachers_dir().glob('*.yaml')))})"
            )
    return TeacherConfig.from_yaml(path)


def bundled_teachers_dir() -> Path:
    """The bundled teachers (configs/teachers/, shipped as package data)."""
    return bundled_config("teachers")
