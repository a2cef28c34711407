"""The domain registry: a domain (code, math, science, puzzle, ...) is registered once, with its judge,
its judge's config model (the ``stages.verify.<domain>`` section) and, when it is not one of the
published four, its user prompt. A judging mode of a domain (math: ``math_verify``, ``judge``, ...) is
an entry of that domain's ``modes``, added with ``register_mode``.

Everything that depends on the list of domains reads it here: the pipeline config (one verify section
per domain, modes checked when the config loads), the verification stage (one judge per domain), the
prompts (through ``register_user_prompt``) and the sources (a source's domain must be registered).
Importing this module registers the built-in domains (``thoughtmill.curation.judges`` imports them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.prompts import USER_PROMPTS, UserPrompt, register_user_prompt

if TYPE_CHECKING:
    from pydantic import BaseModel
    from thoughtmill.curation.judges.base import Judge, Judgement, Rows


@dataclass(frozen=True)
class Mode:
    """One way a domain's judge can decide: ``run(judge, rows)`` yields ``(key, Judgement)``."""

    name: str
    run: Callable[[Any, Rows], Iterator[tuple[str, Judgement]]]
    #: True when the mode asks a judge model: ``judge_teacher`` is then required by the config.
    needs_teacher: bool = False
    description: str = ""


@dataclass
class Domain:
    """A domain: its judge class, the config model of its ``stages.verify`` section, its user prompt
    (None: the published prompt of that name in ``curation.prompts``) and its judging modes."""

    name: str
    judge: type[Judge]
    config: type[BaseModel]
    prompt: UserPrompt | None = None
    modes: dict[str, Mode] = field(default_factory=dict)


#: Registry: domain name -> Domain, in registration order.
DOMAINS: dict[str, Domain] = {}


def register_domain(domain: Domain) -> Domain:
    """Register a domain (its prompt goes to ``curation.prompts``); a name is registered once."""
    if domain.name in DOMAINS:
        raise ValueError(f"domain {domain.name!r} is already registered")
    if domain.prompt is not None:
        register_user_prompt(domain.name, domain.prompt)
    elif domain.name not in USER_PROMPTS:
        raise ValueError(f"domain {domain.name!r} needs a prompt (no published prompt has that name)")
    DOMAINS[domain.name] = domain
    return domain


def register_mode(domain: str, mode: Mode) -> Mode:
    """Add a judging mode to a registered domain (its config's ``mode`` may then name it)."""
    entry = get_domain(domain)
    if mode.name in entry.modes:
        raise ValueError(f"domain {domain!r} already has a mode {mode.name!r}")
    entry.modes[mode.name] = mode
    return mode


def get_domain(name: str) -> Domain:
    """The registered domain called ``name``; an unknown name is an error listing the known ones."""
    domain = DOMAINS.get(name)
    if domain is None:
        raise ConfigError(f"unknown domain {name!r}; registered domains: {', '.join(DOMAINS)}")
    return domain


def get_mode(domain: str, name: str) -> Mode:
    """A domain's judging mode; an unknown one is an error listing the domain's modes."""
    modes = get_domain(domain).modes
    if name not in modes:
        raise ConfigError(
            f"domain {domain!r}: unknown mode {name!r}; known modes: {', '.join(sorted(modes))}"
        )
    return modes[name]


def domain_names() -> tuple[str, ...]:
    return tuple(DOMAINS)
