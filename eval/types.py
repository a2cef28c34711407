"""The small value types that flow between benchmarks, model backends and the outputs store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sampling:
    """How one response is sampled. Evalchemy's reasoning tasks all use T=0.7, 32,768 new tokens, and
    seed ``base + repeat`` (its ``seed[0] + i``), so repeat *i* of every question shares one seed."""

    temperature: float = 0.7
    max_new_tokens: int = 32768
    top_p: float = 1.0
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to answer: question ``example_index`` of ``task``, sample number ``repeat``."""

    task: str
    example_index: int
    repeat: int
    messages: tuple[dict[str, str], ...]
    sampling: Sampling

    @property
    def key(self) -> str:
        """Stable identity of the request inside a run (used to resume and to re-score)."""
        return f"{self.task}/{self.example_index}/{self.repeat}"


@dataclass
class Generation:
    """What a model returned for one request."""

    content: str
    reasoning_content: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The text answers are extracted from: the visible content (reasoning servers split the
        thinking into ``reasoning_content``; local backends return everything as content)."""
        return self.content or ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Generation:
        known = {k: data.get(k) for k in ("content", "reasoning_content", "finish_reason", "prompt_tokens",
                                          "completion_tokens")}
        known["content"] = known["content"] or ""
        return cls(**known, extra=dict(data.get("extra") or {}))
