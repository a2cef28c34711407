"""Teacher providers, registered by name: what ``provider:`` in a teacher YAML selects.

A provider is a settings model (the YAML keys only it understands, validated strictly) and a backend
factory (a teacher config -> a ``Backend``). ``TeacherConfig`` and the engine look providers up here
and nowhere else, so adding one is a module holding both classes plus one ``register_provider`` line:
below for a built-in one, in your own code (or a test) for any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thoughtmill.curation.engine.backends.anthropic import AnthropicBackend, AnthropicSettings
from thoughtmill.curation.engine.backends.base import Backend, ProviderSettings
from thoughtmill.curation.engine.backends.openai_http import OpenAIBackend, OpenAISettings
from thoughtmill.curation.engine.backends.replay import ReplayBackend, ReplaySettings
from thoughtmill.curation.engine.backends.vllm_offline import VLLMOfflineBackend, VLLMSettings

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig

#: the provider a teacher YAML without ``provider:`` uses
DEFAULT_PROVIDER = "openai"


@dataclass(frozen=True)
class Provider:
    """One way to reach a teacher: its own settings and the backend built from a teacher config."""

    name: str
    settings: type[ProviderSettings]
    backend: Callable[[TeacherConfig], Backend]


_PROVIDERS: dict[str, Provider] = {}


def register_provider(
    name: str,
    settings: type[ProviderSettings],
    backend: Callable[[TeacherConfig], Backend],
    *,
    replace: bool = False,
) -> Provider:
    """Make ``provider: <name>`` usable in every teacher config (engine, pipeline, evaluator)."""
    if not issubclass(settings, ProviderSettings):
        raise TypeError(f"provider {name!r}: settings must subclass ProviderSettings, got {settings!r}")
    if name in _PROVIDERS and not replace:
        raise ValueError(f"provider {name!r} is already registered (pass replace=True to override it)")
    provider = Provider(name, settings, backend)
    _PROVIDERS[name] = provider
    return provider


def unregister_provider(name: str) -> None:
    """Forget a provider (tests and plugins that register one for a while)."""
    _PROVIDERS.pop(name, None)


def provider_names() -> list[str]:
    return sorted(_PROVIDERS)


def get_provider(name: str) -> Provider:
    """The provider called ``name``; an unknown name is an error listing the known ones."""
    try:
        return _PROVIDERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown provider {name!r} (known providers: {', '.join(provider_names())}; "
            "add one with thoughtmill.curation.engine.providers.register_provider)"
        ) from None


def make_backend(config: TeacherConfig) -> Backend:
    """Build the backend a teacher config names."""
    return get_provider(config.provider).backend(config)


register_provider("openai", OpenAISettings, OpenAIBackend)
register_provider("replay", ReplaySettings, ReplayBackend)
register_provider("vllm", VLLMSettings, VLLMOfflineBackend)
register_provider("anthropic", AnthropicSettings, AnthropicBackend)
