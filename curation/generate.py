"""The generation stage's LLM: the published prompts in, the teacher's reasoning and answer out.

``reasoning_content`` becomes ``deepseek_reasoning`` and ``content`` becomes ``deepseek_solution`` (the
published "metadata" names, whatever the teacher). A server without a reasoning parser returns the
thinking inline as ``<think>...</think>``; it is split off so both layouts give the same columns.
The replay key is the problem text, so recorded traces are matched by problem.
"""

from __future__ import annotations

from typing import Any

from thoughtmill.curation.engine import LLM, Response
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
