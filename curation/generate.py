"""The generation stage's LLM: the published prompts in, the teacher's reasoning and answer out.

``reasoning_content`` becomes ``deepseek_reasoning`` and ``content`` becomes ``deepseek_solution`` (the
published "metadata" names, whatever the teacher). A server without a reasoning parser returns the
thinking inline as ``<think>...</think>``; it is split off so both layouts give the same columns.
The replay key is the problem text, so recorded traces are matched by problem.

Several answers per question: a row with ``sample_index`` k > 0 is the k-th draw of the same request;
the index enters the request's cache key (so every sample is cached, resumed and billed on its own)
and, when the teacher pins a ``seed``, the seed is offset by k (else a seeded server would answer
the same text k times). Sample 0 is exactly the request a row without samples sends.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from thoughtmill.curation.engine import LLM, Request, Response
from thoughtmill.curation.engine.backends.base import split_think
from thoughtmill.curation.prompts import generation_messages

#: Columns the generation stage adds to every problem row.
GENERATED_COLUMNS = (
    "deepseek_reasoning",
    "deepseek_solution",
    "teacher",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
)

#: The column that says which of a question's answers a row holds (0 when there is one).
SAMPLE_COLUMN = "sample_index"


def split_reasoning(content: str, reasoning: str | None) -> tuple[str, str]:
    """(reasoning, solution): the API's reasoning field, else an inline leading ``<think>`` block."""
    if reasoning:
        return reasoning, content
    thought, solution = split_think(content or "")
    return thought or "", solution


class GenerateTraces(LLM):
    """One teacher request per problem row, in the published prompt layout."""

    def prompt(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return generation_messages(row)

    def replay_key(self, row: dict[str, Any]) -> str:
        return row["problem"]

    def generation_params(self, row: dict[str, Any]) -> dict[str, Any]:
        sample = sample_index(row)
        seed = {**self.teacher.generation, **self.generation_overrides}.get("seed")
        return {"seed": seed + sample} if sample and isinstance(seed, int) else {}

    def build_request(self, index: int, row: dict[str, Any]) -> Request:
        request = super().build_request(index, row)
        sample = sample_index(row)
        return dataclasses.replace(request, sample_index=sample) if sample else request

    def parse(self, row: dict[str, Any], response: Response) -> dict[str, Any]:
        reasoning, solution = split_reasoning(response.content, response.reasoning_content)
        usage = response.usage
        return {
            **row,
            "deepseek_reasoning": reasoning,
            "deepseek_solution": solution,
            "teacher": response.model or self.teacher.model,
            "finish_reason": response.finish_reason or "",
            "prompt_tokens": int(usage.prompt_tokens),
            "completion_tokens": int(usage.completion_tokens),
            "reasoning_tokens": int(usage.reasoning_tokens),
        }


def sample_index(row: dict[str, Any]) -> int:
    """Which answer to its question a row asks for (0 for a row without the column)."""
    return int(row.get(SAMPLE_COLUMN) or 0)
