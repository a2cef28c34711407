"""Anthropic's Messages API (``POST /v1/messages``) over aiohttp: Claude as a teacher or a judge.

Extended thinking is the reasoning trace: ``thinking`` blocks become ``reasoning_content``, ``text``
blocks the answer. ``stop_reason`` is mapped to the engine's vocabulary (``max_tokens`` -> ``length``,
so ``on_length`` works). Usage counts the whole prompt (uncached + cache writes + cache reads), with
cache reads and writes kept apart for prompt-caching prices. Anthropic's own rate-limit headers
(RFC 3339 reset times) are translated to the ``x-ratelimit-*`` form the engine's limiter reads, and
429 and 529 (overloaded) pause every request like the OpenAI path's 429.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

import aiohttp
from pydantic import Field, field_validator
from thoughtmill.curation.engine.backends.base import ProviderSettings
from thoughtmill.curation.engine.backends.http_errors import EXCERPT, http_error
from thoughtmill.curation.engine.backends.http_session import HttpBackend
from thoughtmill.curation.engine.errors import RetryableError
from thoughtmill.curation.engine.request import Request, Response, Usage
from thoughtmill.curation.errors import ConfigError

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig

#: generation keys with another name in the Messages API
_RENAMED = {"stop": "stop_sequences"}
#: generation keys the Messages API has no equivalent for; they stay in the cache key (a per-sample
#: seed still makes samples distinct) but are not sent
_NOT_SENT = frozenset({"seed", "n", "frequency_penalty", "presence_penalty"})
_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}
#: Anthropic's quota headers -> the x-ratelimit-* quota the engine's limiter understands
_QUOTAS = {"requests": ("requests",), "tokens": ("tokens", "input-tokens", "output-tokens")}


class AnthropicSettings(ProviderSettings):
    """Where the Messages API lives and how to authenticate to it."""

    base_url: str = Field("https://api.anthropic.com", description="root URL, without /v1")
    api_key_env: str = Field(
        "ANTHROPIC_API_KEY", description="name of the environment variable holding the key"
    )
    anthropic_version: str = Field("2023-06-01", description="the anthropic-version header")
    anthropic_beta: list[str] = Field(default_factory=list, description="anthropic-beta features, if any")
    default_max_tokens: int = Field(
        4096, ge=1, description="max_tokens when generation sets none (the API requires one)"
    )
    connect_timeout_s: float = Field(30.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        url = url.rstrip("/")
        return url[: -len("/v1")] if url.endswith("/v1") else url

    def endpoint_identity(self) -> str:
        return self.base_url

    def describe(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "anthropic_version": self.anthropic_version}

    def check_credentials(self, label: str) -> None:
        self.api_key(label)

    def api_key(self, label: str) -> str:
        """Read the key from the environment at call time; it is never stored on the config."""
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(
                f"teacher '{label}': environment variable {self.api_key_env} is not set "
                f"(it should hold the Anthropic API key for {self.base_url})"
            )
        return key

    def headers(self, label: str) -> dict[str, str]:
        """The headers of every call: the key, the API version, the beta features."""
        headers = {
            "content-type": "application/json",
            "x-api-key": self.api_key(label),
            "anthropic-version": self.anthropic_version,
        }
        if self.anthropic_beta:
            headers["anthropic-beta"] = ",".join(self.anthropic_beta)
        return headers


def messages_body(request: Request, settings: AnthropicSettings) -> dict[str, Any]:
    """The Messages API body for a canonical request (also what a message batch's ``params`` holds).

    System messages go to the top-level ``system``; OpenAI-style generation keys are renamed or
    left out (see ``_RENAMED`` / ``_NOT_SENT``); everything else (``thinking``, ``top_k``, ...) is
    sent as written.
    """
    system = [m["content"] for m in request.messages if m.get("role") == "system"]
    messages = [
        {"role": m["role"], "content": m["content"]} for m in request.messages if m.get("role") != "system"
    ]
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    for key, value in request.params.items():
        if key not in _NOT_SENT:
            body[_RENAMED.get(key, key)] = value
    body.setdefault("max_tokens", settings.default_max_tokens)
    if system:
        body["system"] = "\n\n".join(s if isinstance(s, str) else json.dumps(s) for s in system)
    return body


def parse_message(data: Any, origin: str) -> Response:
    """Read a Messages API ``message`` object; a malformed one is retryable (proxies truncate bodies)."""
    try:
        blocks = data["content"]
        usage = data.get("usage") or {}
        thinking = [b.get("thinking") or "" for b in blocks if b.get("type") == "thinking"]
        text = [b.get("text") or "" for b in blocks if b.get("type") == "text"]
    except (KeyError, TypeError, AttributeError) as exc:
        excerpt = json.dumps(data)[:EXCERPT] if not isinstance(data, str) else data[:EXCERPT]
        raise RetryableError(f"malformed message from {origin}: {type(exc).__name__} in {excerpt!r}") from exc
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    stop = data.get("stop_reason")
    return Response(
        content="".join(text),
        reasoning_content="\n\n".join(thinking) if thinking else None,
        finish_reason=_STOP_REASONS.get(stop, stop),
        usage=Usage(
            prompt_tokens=int(usage.get("input_tokens") or 0) + cache_read + cache_write,
            completion_tokens=int(usage.get("output_tokens") or 0),
            cached_tokens=cache_read,
            cache_write_tokens=cache_write,
        ),
        model=data.get("model"),
    )


def limiter_headers(headers: Mapping[str, str], now: datetime | None = None) -> dict[str, str]:
    """Anthropic's rate-limit headers as the ``x-ratelimit-*`` ones the engine's limiter reads.

    ``anthropic-ratelimit-<quota>-reset`` is an RFC 3339 instant; the limiter wants seconds from now.
    The tokens quota is the tightest of tokens / input-tokens / output-tokens. ``retry-after`` is
    passed through.
    """
    now = now or datetime.now(timezone.utc)
    lower = {k.lower(): v for k, v in headers.items()}
    out: dict[str, str] = {}
    if "retry-after" in lower:
        out["retry-after"] = lower["retry-after"]
    for quota, names in _QUOTAS.items():
        tightest: tuple[float, float] | None = None
        for name in names:
            remaining = _number(lower.get(f"anthropic-ratelimit-{name}-remaining"))
            if remaining is None:
                continue
            reset = _seconds_until(lower.get(f"anthropic-ratelimit-{name}-reset"), now)
            if tightest is None or remaining < tightest[0]:
                tightest = (remaining, reset)
        if tightest is not None:
            out[f"x-ratelimit-remaining-{quota}"] = f"{tightest[0]:g}"
            out[f"x-ratelimit-reset-{quota}"] = f"{tightest[1]:.3f}"
    return out


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _seconds_until(stamp: str | None, now: datetime) -> float:
    if not stamp:
        return 0.0
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return _number(stamp) or 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


class AnthropicBackend(HttpBackend):
    """Messages over HTTP; rate-limit headers feed the engine's limiter."""

    supports_json_schema = False

    def __init__(self, config: TeacherConfig) -> None:
        super().__init__(config)
        self.settings = cast(AnthropicSettings, config.settings)

    def request_headers(self) -> dict[str, str]:
        return self.settings.headers(self.config.label)  # fails now if the key is missing

    async def complete(self, request: Request) -> Response:
        url = f"{self.settings.base_url}/v1/messages"
        body = json.dumps(messages_body(request, self.settings)).encode()
        try:
            async with self.session.post(url, data=body, headers=self.headers) as resp:
                raw = await resp.read()
                self.report_rate_headers(limiter_headers(resp.headers))
                status, headers = resp.status, resp.headers
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise RetryableError(f"connection to {url} failed: {type(exc).__name__}: {exc}") from exc
        except asyncio.TimeoutError as exc:
            raise RetryableError(f"no complete answer from {url} within {self.config.timeout_s:g}s") from exc
        if status != 200:
            origin = f"teacher '{self.config.label}' at {url}"
            raise http_error(status, limiter_headers(headers), raw, origin, self.settings.api_key_env)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise RetryableError(f"malformed body from {url}: {raw[:EXCERPT]!r}") from exc
        return parse_message(data, url)
