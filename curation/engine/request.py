"""The canonical request and response, and the cache key that ties them together.

The cache key covers everything that can change the answer: the model, every message (the system
prompt included — Curator's key leaves it out, so changing the system prompt silently reuses stale
answers), every generation parameter, the structured-output schema and the endpoint identity.
It covers nothing that cannot (the API key, the row's position, the user's ``parse``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, so equal requests hash equally.

    One shared encoder: ``json.dumps`` with options builds a new one on every call.
    """
    return _CANONICAL.encode(value)


@dataclass(frozen=True)
class Request:
    """One chat-completion request, independent of which backend sends it."""

    model: str
    messages: tuple[Message, ...]
    params: dict[str, Any] = field(default_factory=dict)
    response_schema: dict[str, Any] | None = None
    endpoint: str = ""
    #: Text a replay backend matches on (e.g. the problem), when it is not the last user message.
    replay_key: str | None = field(default=None, compare=False)
    #: Which of several answers to the same request this is: sample k > 0 is cached apart from the
    #: others (sample 0 keeps the key a request without samples always had).
    sample_index: int = 0

    def cache_key(self) -> str:
        """SHA-256 of the canonical request; the cache's only index."""
        payload = {
            "model": self.model,
            "messages": list(self.messages),
            "params": self.params,
            "schema": self.response_schema,
            "endpoint": self.endpoint,
        }
        if self.sample_index:
            payload["sample"] = self.sample_index
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else canonical_json(content)
        return ""

    def prompt_chars(self) -> int:
        return sum(
            len(m.get("content") or "") if isinstance(m.get("content"), str) else 0 for m in self.messages
        )


@dataclass
class Usage:
    """Token counts as the teacher reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    #: prompt tokens written to the provider's prompt cache (Anthropic bills them above the input
    #: price); stored with the answer, so the cost of a resumed run counts them too
    cache_write_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
            reasoning_tokens=int(data.get("reasoning_tokens") or 0),
            cached_tokens=int(data.get("cached_tokens") or 0),
            cache_write_tokens=int(data.get("cache_write_tokens") or 0),
        )


@dataclass
class Response:
    """What a teacher answered: stored once in the cache, handed to ``parse``.

    ``parsed`` holds the validated structured object when the request had a response format; it is
    rebuilt from ``content`` on a cache hit rather than stored twice.
    """

    content: str
    reasoning_content: str | None = None
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    parsed: Any = None
    from_cache: bool = False

    def to_record(self) -> dict[str, Any]:
        """The one stored form of a response (text once, no raw body copy)."""
        return {
            "content": self.content,
            "reasoning_content": self.reasoning_content,
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict(),
            "model": self.model,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], *, from_cache: bool = True) -> Response:
        return cls(
            content=record.get("content") or "",
            reasoning_content=record.get("reasoning_content"),
            finish_reason=record.get("finish_reason"),
            usage=Usage.from_dict(record.get("usage")),
            model=record.get("model"),
            from_cache=from_cache,
        )
