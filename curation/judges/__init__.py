"""Verification per domain: code in the sandbox, math by Math-Verify and/or an LLM judge, puzzles
against the answer key, science pass-through or judged. Each domain is an entry of the registry
(``judges.registry``); importing this package registers the built-in four."""

from __future__ import annotations

from thoughtmill.curation.judges import code, math, puzzle, science  # noqa: F401 - registers the domains
from thoughtmill.curation.judges.base import JUDGE_COLUMNS, Judge, Judgement, JudgeResources
from thoughtmill.curation.judges.registry import (
    DOMAINS,
    Domain,
    Mode,
    domain_names,
    get_domain,
    get_mode,
    register_domain,
    register_mode,
)

__all__ = [
    "DOMAINS",
    "JUDGE_COLUMNS",
    "Domain",
    "Judge",
    "JudgeResources",
    "Judgement",
    "Mode",
    "domain_names",
    "get_domain",
    "get_mode",
    "register_domain",
    "register_mode",
]
