"""OpenAI-compatible chat completions over aiohttp: DeepSeek, OpenAI, Together, vLLM/SGLang servers.

Captures ``reasoning_content`` (DeepSeek, vLLM's reasoning parsers; ``reasoning`` on some servers) as
well as the answer, ``finish_reason`` and usage. Several base URLs for one teacher are replicas:
each request goes to the live replica with the fewest requests in flight, and a replica that refuses
connections is set aside for a while so retries fail over to the others.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
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

_DOWN_SECONDS = 10.0  # how long a replica that refused a connection is avoided


class OpenAISettings(ProviderSettings):
    """Where an OpenAI-compatible endpoint lives and how to authenticate to it."""

    base_urls: list[str] = Field(
        default_factory=list, validate_default=True, description="one or more replicas of one endpoint"
    )
    api_key_env: str | None = Field(None, description="name of the environment variable holding the key")
    connect_timeout_s: float = Field(30.0, gt=0)
    extra_headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("base_urls")
    @classmethod
    def _needs_urls(cls, urls: list[str]) -> list[str]:
        if not urls:
            raise ValueError("provider 'openai' needs base_urls (e.g. ['https://api.deepseek.com/v1'])")
        return [u.rstrip("/") for u in urls]

    def endpoint_identity(self) -> str:
        return ",".join(sorted(self.base_urls))

    def endpoint_replicas(self) -> list[str]:
        return list(self.base_urls)

    def describe(self) -> dict[str, Any]:
        return {"base_urls": list(self.base_urls)}

    def check_credentials(self, label: str) -> None:
        self.api_key(label)

    def api_key(self, label: str) -> str | None:
        """Read the key from the environment at call time; it is never stored on the config."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(
                f"teacher '{label}': environment variable {self.api_key_env} is not set "
                f"(it should hold the API key for {self.base_urls[0]})"
            )
        return key


@dataclass
class Replica:
    url: str
    in_flight: int = 0
    down_until: float = 0.0
    failures: int = 0

    def alive(self, now: float) -> bool:
        return self.down_until <= now


class OpenAIBackend(HttpBackend):
    """Chat completions over HTTP with replica spreading and failover."""

    supports_json_schema = True

    def __init__(self, config: TeacherConfig) -> None:
        super().__init__(config)
        self.settings = cast(OpenAISettings, config.settings)
        self.replicas = [Replica(url) for url in self.settings.base_urls]

    def request_headers(self) -> dict[str, str]:
        key = self.settings.api_key(self.config.label)  # read now: fail before sending anything if missing
        headers = {"Content-Type": "application/json", **self.settings.extra_headers}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _pick(self) -> Replica:
        if len(self.replicas) == 1:  # the common case, on the hot path: nothing to choose
            return self.replicas[0]
        now = time.monotonic()
        alive = [r for r in self.replicas if r.alive(now)]
        if not alive:  # all set aside: try the one that comes back first
            return min(self.replicas, key=lambda r: r.down_until)
        return min(alive, key=lambda r: r.in_flight)

    def body(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "messages": list(request.messages), **request.params}
        if request.response_schema is not None:
            mode = self.config.structured_output
            if mode == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": request.response_schema.get("title", "response"),
                        "schema": request.response_schema,
                    },
                }
            elif mode == "json_object":
                body["response_format"] = {"type": "json_object"}
        return body

    async def complete(self, request: Request) -> Response:
        session = self.session
        replica = self._pick()
        replica.in_flight += 1
        try:
            async with session.post(
                f"{replica.url}/chat/completions",
                data=json.dumps(self.body(request)).encode(),
                headers=self.headers,
            ) as resp:
                raw = await resp.read()
                self.report_rate_headers(resp.headers)
                status, headers = resp.status, resp.headers
            if status == 200:
                return parse_completion(raw, replica.url)
            origin = f"teacher '{self.config.label}' at {replica.url}"
            raise http_error(status, headers, raw, origin, self.settings.api_key_env)
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError) as exc:
            replica.failures += 1
            if isinstance(exc, aiohttp.ClientConnectorError):
                replica.down_until = time.monotonic() + _DOWN_SECONDS
            raise RetryableError(f"connection to {replica.url} failed: {type(exc).__name__}: {exc}") from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            raise RetryableError(f"connection to {replica.url} broke: {type(exc).__name__}: {exc}") from exc
        except asyncio.TimeoutError as exc:
            raise RetryableError(
                f"no complete answer from {replica.url} within {self.config.timeout_s:g}s"
            ) from exc
        finally:
            replica.in_flight -= 1


def parse_completion(raw: bytes, origin: str) -> Response:
    """Read an OpenAI chat.completion body; a malformed one is retryable (proxies truncate bodies)."""
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        message = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        excerpt = raw[:EXCERPT].decode("utf-8", "replace")
        raise RetryableError(
            f"malformed completion body from {origin}: {type(exc).__name__} in {excerpt!r}"
        ) from exc
    usage = data.get("usage") or {}
    details = usage.get("completion_tokens_details") or {}
    prompt_details = usage.get("prompt_tokens_details") or {}
    reasoning = message.get("reasoning_content")
    if reasoning is None:
        reasoning = message.get("reasoning")
    return Response(
        content=message.get("content") or "",
        reasoning_content=reasoning,
        finish_reason=choice.get("finish_reason"),
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            reasoning_tokens=int(details.get("reasoning_tokens") or 0),
            cached_tokens=int(
                prompt_details.get("cached_tokens") or usage.get("prompt_cache_hit_tokens") or 0
            ),
        ),
        model=data.get("model"),
    )
