"""The batch clients, registered by provider name: which providers ``mode: batch`` works for.

Adding one is a :class:`~thoughtmill.curation.engine.batch.client.BatchClient` subclass plus one
``register_batch_client`` line (below for a built-in one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from thoughtmill.curation.engine.batch.anthropic_batch import AnthropicBatchClient
from thoughtmill.curation.engine.batch.client import BatchClient
from thoughtmill.curation.engine.batch.openai_batch import OpenAIBatchClient
from thoughtmill.curation.errors import ConfigError

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig

ClientFactory = Callable[["TeacherConfig"], BatchClient]
_CLIENTS: dict[str, ClientFactory] = {}


def register_batch_client(provider: str, factory: ClientFactory, *, replace: bool = False) -> None:
    """Make ``mode: batch`` work for teachers of ``provider``."""
    if provider in _CLIENTS and not replace:
        raise ValueError(f"a batch client for provider {provider!r} is already registered")
    _CLIENTS[provider] = factory


def batch_client_names() -> list[str]:
    return sorted(_CLIENTS)


def make_batch_client(config: TeacherConfig) -> BatchClient:
    """The batch client for a teacher's provider; a provider without one is a clear error."""
    try:
        factory = _CLIENTS[config.provider]
    except KeyError:
        raise ConfigError(
            f"teacher '{config.label}': mode: batch is not available for provider '{config.provider}' "
            f"(providers with a batch API: {', '.join(batch_client_names()) or 'none'}); use mode: live"
        ) from None
    return factory(config)


def unregister_batch_client(provider: str) -> None:
    """Forget a batch client (tests and plugins that register one for a while)."""
    _CLIENTS.pop(provider, None)


register_batch_client("openai", OpenAIBatchClient)
register_batch_client("anthropic", AnthropicBatchClient)
