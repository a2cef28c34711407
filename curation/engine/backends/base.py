"""What every teacher provider supplies: its settings model and a backend that answers requests."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from thoughtmill.curation.engine.request import Request, Response
from thoughtmill.curation.engine.strict import StrictModel

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig


class ProviderSettings(StrictModel):
    """The keys of a teacher YAML that only one provider understands, validated by that provider.

    They sit at the top level of the YAML beside the common keys (``model``, ``generation``, ...); a
    provider's field name must not reuse a common key.
    """

    def endpoint_identity(self) -> str:
        """What, besides the provider name, can change the answers (part of every cache key).

        The default is every setting; override to leave out what cannot change an answer."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)

    def endpoint_replicas(self) -> list[str]:
        """Interchangeable servers of this one endpoint: adding or dropping one keeps the cached
        answers (``endpoint_lineage``). Default: none, the identity alone decides."""
        return []

    def describe(self) -> dict[str, Any]:
        """Settings worth recording with results (the evaluator's ``model_args``); no secrets."""
        return {}

    def check_credentials(self, label: str) -> None:
        """Raise ConfigError now if what the provider needs to authenticate is missing (a pipeline
        checks every teacher when its config loads, before anything is paid for). Default: nothing."""


class Backend(ABC):
    """A way to reach a teacher. Backends raise the classes in ``curation.engine.errors``."""

    #: whether a JSON schema can be sent with the request (else it goes into the prompt)
    supports_json_schema: bool = False

    def __init__(self, config: TeacherConfig) -> None:
        self.config = config

    async def start(self) -> None:
        """Open connections / load models; called once per run, inside the event loop."""

    @abstractmethod
    async def complete(self, request: Request) -> Response:
        """Send one request; return the teacher's answer or raise a classified error."""

    async def close(self) -> None:
        """Release connections / models."""

    def on_rate_headers(self, callback: Callable[[Mapping[str, str]], None]) -> None:
        """Register a callback for rate-limit headers (HTTP backends only)."""


_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


def split_think(text: str) -> tuple[str | None, str]:
    """Split a leading ``<think>...</think>`` block (R1-style models) into (reasoning, answer)."""
    match = _THINK.match(text)
    if not match:
        return None, text
    return match.group(1).strip(), text[match.end() :]
