"""Teacher configuration: everything about a teacher lives here, so swapping one is a one-file change.

A `TeacherConfig` is loaded from YAML (``configs/teachers/*.yaml``). It names the environment variable
that holds the API key, never the key itself, so configs can be committed and shared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SerializeAsAny, ValidationError, model_serializer, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from thoughtmill.curation.engine.backends.base import ProviderSettings
from thoughtmill.curation.engine.batch.options import BatchOptions
from thoughtmill.curation.engine.providers import DEFAULT_PROVIDER, Provider, get_provider, provider_names
from thoughtmill.curation.engine.request import Usage
from thoughtmill.curation.engine.strict import StrictModel
from thoughtmill.curation.errors import ConfigError

from thoughtmill.overrides import OverrideError, set_path
from thoughtmill.resources import bundled_config

__all__ = ["Pricing", "RetryConfig", "StrictModel", "TeacherConfig", "load_teacher"]


class Pricing(StrictModel):
    """Prices in US dollars per million tokens, for live cost and projections."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0
    cached_input_per_million: float | None = Field(
        None, description="prompt tokens read from the prompt cache"
    )
    cache_write_input_per_million: float | None = Field(
        None, description="prompt tokens written to the prompt cache (Anthropic: 1.25x input)"
    )
    batch_discount: float = Field(
        0.5, ge=0.0, le=1.0, description="share of the price taken off through a batch API (0.5 = half price)"
    )

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollar cost of one call's usage (no prompt-cache tokens, live price)."""
        return self.usage_cost(Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))

    def usage_cost(self, usage: Usage, *, batch: bool = False) -> float:
        """Dollar cost of one answer: cache reads and writes at their own prices, batch discount applied."""
        read = usage.cached_tokens
        write = usage.cache_write_tokens
        plain = max(0, usage.prompt_tokens - read - write)
        read_price = (
            self.input_per_million if self.cached_input_per_million is None else self.cached_input_per_million
        )
        write_price = (
            self.input_per_million
            if self.cache_write_input_per_million is None
            else self.cache_write_input_per_million
        )
        dollars = (
            plain * self.input_per_million
            + read * read_price
            + write * write_price
            + usage.completion_tokens * self.output_per_million
        ) / 1e6
        return dollars * (1.0 - self.batch_discount) if batch else dollars


class RetryConfig(StrictModel):
    """How hard to try before a row is recorded as failed."""

    max_attempts: int = Field(8, ge=1, description="attempts per request, the first included")
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(120.0, gt=0)
    max_invalid_structured: int = Field(
        2, ge=0, description="re-asks when a structured reply fails validation"
    )


class TeacherConfig(StrictModel):
    """One teacher model and how to talk to it.

    The keys below are common to every provider; the others in a teacher YAML (``base_urls``,
    ``vllm:``, ``replay:``, ...) belong to the provider named by ``provider`` and are validated by its
    settings model (``curation.engine.providers``), then kept in ``settings``. Dumping the config
    puts them back at the top level, so a dump loads again as the same teacher.
    """

    name: str | None = Field(None, description="a label for logs; defaults to the model id")
    provider: str = Field(DEFAULT_PROVIDER, description="a registered provider: openai, vllm, replay, ...")
    model: str
    generation: dict[str, Any] = Field(
        default_factory=dict, description="temperature, max_tokens, top_p, ..."
    )
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    max_concurrency: int = Field(64, ge=1)
    timeout_s: float = Field(1800.0, gt=0, description="one request, connect to last byte")
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
    mode: Literal["live", "batch"] = Field(
        "live", description="live calls, or the provider's batch API for uncached requests (half price)"
    )
    batch: BatchOptions = Field(default_factory=BatchOptions, description="how mode: batch runs")
    settings: SerializeAsAny[ProviderSettings] = Field(
        default_factory=ProviderSettings,
        description="the provider's own keys, validated by its settings model (written flat in YAML)",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _provider_settings(cls, data: Any, handler: Any) -> TeacherConfig:
        """Hand the keys that are not common to the provider's settings model; report all errors."""
        if not isinstance(data, dict) or isinstance(data.get("settings"), ProviderSettings):
            return handler(data)
        common = {k: v for k, v in data.items() if k in cls.model_fields and k != "settings"}
        own = {k: v for k, v in data.items() if k not in cls.model_fields}
        if isinstance(data.get("settings"), dict):
            own = {**data["settings"], **own}
        errors: list[InitErrorDetails] = []
        name = common.get("provider", DEFAULT_PROVIDER)
        try:
            provider = get_provider(name)
        except ValueError as exc:
            errors.append(_error(("provider",), name, str(exc)))
            provider = None
        if provider is not None:
            clash = set(provider.settings.model_fields) & set(cls.model_fields)
            if clash:
                raise ValueError(f"provider {name!r}: settings reuse common teacher keys {sorted(clash)}")
            try:
                common["settings"] = provider.settings.model_validate(own)
            except ValidationError as exc:
                errors.extend(_as_details(exc, provider))
        else:
            common["settings"] = ProviderSettings()
        try:
            config = handler(common)
        except ValidationError as exc:
            errors = _as_details(exc) + errors
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return config

    @model_serializer(mode="wrap")
    def _flat(self, handler: Any) -> dict[str, Any]:
        """The provider's keys back at the top level: the shape a user writes."""
        data = handler(self)
        settings = data.pop("settings", None) or {}
        return {**data, **settings}

    @property
    def label(self) -> str:
        return self.name or self.model

    def endpoint_identity(self) -> str:
        """What distinguishes this endpoint in cache keys (replicas of one teacher share it)."""
        if self.cache_namespace:
            return f"ns:{self.cache_namespace}"
        return f"{self.provider}:{self.settings.endpoint_identity()}"

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
        apply_overrides(data, overrides or {})
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> TeacherConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"teacher config {source}: {format_validation_error(exc)}") from exc


def _error(loc: tuple[str | int, ...], value: Any, message: str) -> InitErrorDetails:
    return {"type": PydanticCustomError("provider", message), "loc": loc, "input": value}


def _as_details(exc: ValidationError, provider: Provider | None = None) -> list[InitErrorDetails]:
    """A caught validation error's problems, ready to be raised again with others. An unknown key
    among a provider's settings names the keys that provider takes and the other providers."""
    details: list[InitErrorDetails] = []
    for err in exc.errors():
        if provider is not None and err["type"] == "extra_forbidden":
            others = [n for n in provider_names() if n != provider.name]
            message = (
                f"unknown key (check the spelling; provider '{provider.name}' takes "
                f"{', '.join(provider.settings.model_fields) or 'no keys'} besides the common teacher keys; "
                f"other providers: {', '.join(others) or 'none'})"
            )
            details.append(_error(err["loc"], err["input"], message))
        elif err["type"] in ("value_error", "assertion_error", "provider"):
            message = str(err.get("ctx", {}).get("error", err["msg"]))
            details.append(_error(err["loc"], err["input"], message))
        else:
            details.append(
                {"type": err["type"], "loc": err["loc"], "input": err["input"], "ctx": err.get("ctx", {})}
            )
    return details


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


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set each dotted key of ``overrides`` in the teacher mapping ``data``; a bad path is a ConfigError."""
    try:
        for key, value in overrides.items():
            set_path(data, key, value)
    except OverrideError as exc:
        raise ConfigError(f"teacher config: {exc}") from None
    return data
