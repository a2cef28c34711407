"""Length measurement for the export: the student's own tokenizer when given, characters otherwise.

Lengths are counted on the text the student will actually see (its chat template applied to system,
user and assistant turns), so a `max_tokens` filter matches LLaMA-Factory's `cutoff_len`.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from thoughtmill.training.errors import missing_dependency

#: Upper bucket edges of the length histogram (powers of two up to 64k, then everything above).
HISTOGRAM_EDGES: tuple[int, ...] = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class TokenCounter:
    """Counts chat-formatted tokens per record with a `transformers` tokenizer (imported lazily)."""

    def __init__(self, tokenizer_path: str):
        try:
            from transformers import AutoTokenizer
        except ImportError as err:
            raise missing_dependency(
                "transformers",
                "Measuring token lengths",
                "Install it with: pip install 'thoughtmill[tokenizer]', or run the export with the train "
                "environment: .venv-train/bin/python -m training.cli export ...",
            ) from err
        self.name = tokenizer_path
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
        self.has_template = bool(getattr(self.tokenizer, "chat_template", None))

    def _text(self, record: dict[str, Any]) -> str:
        messages = [{"role": "system", "content": record["system"]}] if record["system"] else []
        messages += [{"role": t["from"], "content": t["value"]} for t in record["conversations"]]
        if self.has_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False)
        return "\n".join(m["content"] for m in messages)

    def count(self, records: Sequence[dict[str, Any]]) -> list[int]:
        """Token count of each record, in order (one batched tokenizer call)."""
        if not records:
            return []
        encoded = self.tokenizer([self._text(r) for r in records], add_special_tokens=False)
        return [len(ids) for ids in encoded["input_ids"]]


def char_count(records: Sequence[dict[str, Any]]) -> list[int]:
    """Characters of system + all turns: the fallback measure when no tokenizer is given."""
    return [len(r["system"]) + sum(len(t["value"]) for t in r["conversations"]) for r in records]


def histogram(lengths: Iterable[int], edges: Sequence[int] = HISTOGRAM_EDGES) -> list[dict[str, Any]]:
    """Counts per bucket [lo, hi); the last bucket is open-ended (hi = None)."""
    bounds = [0, *edges]
    counts = [0] * (len(edges) + 1)
    for n in lengths:
        i = 0
        while i < len(edges) and n >= edges[i]:
            i += 1
        counts[i] += 1
    return [
        {"lo": bounds[i], "hi": edges[i] if i < len(edges) else None, "count": c}
        for i, c in enumerate(counts)
    ]


def stats(lengths: array) -> dict[str, Any]:
    """min / max / mean / percentiles of a length array (an `array` keeps 114k ints compact)."""
    if not lengths:
        return {"count": 0}
    ordered = sorted(lengths)

    def pct(p: float) -> int:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    return {
        "count": len(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "mean": round(sum(ordered) / len(ordered), 1),
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
    }
