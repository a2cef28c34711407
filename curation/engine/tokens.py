"""Token estimates for the tokens/min budget, before the teacher tells us the real count.

With ``TeacherConfig.tokenizer`` set and ``transformers`` installed, prompts are counted with the
teacher's own tokenizer. Otherwise a documented heuristic is used: one token per 3 characters plus 4
per message. Real BPE tokenizers give ~3.5-4.5 characters per token on English prose and ~3 on code
and LaTeX, so the heuristic errs towards over-reserving; the difference is refunded from the usage
the teacher reports, so an over-estimate only delays, and never loses, throughput.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.0
TOKENS_PER_MESSAGE = 4


class TokenEstimator:
    """Estimate prompt tokens; reserve output tokens from ``max_tokens``."""

    def __init__(self, tokenizer: str | None = None) -> None:
        self._tokenizer: Any = None
        if tokenizer:
            try:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(tokenizer)
            except Exception as exc:  # absent package, offline hub, unknown id: fall back loudly
                log.warning(
                    "token estimates use the heuristic: cannot load tokenizer %r (%s)", tokenizer, exc
                )

    def prompt_tokens(self, messages: Sequence[dict[str, Any]]) -> int:
        texts = [m.get("content") if isinstance(m.get("content"), str) else "" for m in messages]
        if self._tokenizer is not None:
            return sum(
                len(self._tokenizer.encode(t, add_special_tokens=False)) for t in texts
            ) + TOKENS_PER_MESSAGE * len(texts)
        return sum(math.ceil(len(t) / CHARS_PER_TOKEN) for t in texts) + TOKENS_PER_MESSAGE * len(texts)

    def request_tokens(self, messages: Sequence[dict[str, Any]], params: dict[str, Any]) -> int:
        """What to reserve from the tokens/min bucket: prompt plus the most the answer may use."""
        return self.prompt_tokens(messages) + int(
            params.get("max_tokens") or params.get("max_completion_tokens") or 0
        )
