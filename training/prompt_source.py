"""Where the export takes its system prompt and thought/solution markers from.

The canonical text lives in `curation.prompts` (owned by the curation side): the student's system prompt
(`REASONING_SYSTEM_PROMPT`), the four markers and `user_prompt(row)` (the per-domain user turn the
teacher saw, e.g. the math "\\boxed{}" prefix). Training reads datasets only, but importing those keeps
one source of truth. Where that module is absent the fallback below carries the published text and the
raw problem. `load_prompt_source` is the one place to repoint.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PUBLISHED_SYSTEM_PROMPT = (
    "Your role as an assistant involves thoroughly exploring questions through a systematic long "
    "thinking process before providing the final precise and accurate solutions. This requires engaging "
    "in a comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, "
    "backtracing, and iteration to develop well-considered thinking process. Please structure your "
    "response into two main sections: Thought and Solution. In the Thought section, detail your "
    "reasoning process using the specified format: <|begin_of_thought|> {thought with steps separated "
    "with '\\n\\n'} <|end_of_thought|> Each step should include detailed considerations such as "
    "analisying questions, summarizing relevant findings, brainstorming new ideas, verifying the accuracy "
    "of the current steps, refining any errors, and revisiting previous steps. In the Solution section, "
    "based on various attempts, explorations, and reflections from the Thought section, systematically "
    "present the final solution that you deem correct. The solution should remain a logical, accurate, "
    "concise expression style and detail necessary step needed to reach the conclusion, formatted as "
    "follows: <|begin_of_solution|> {final formatted, precise, and clear solution} <|end_of_solution|> "
    "Now, try to solve the following question through the above guidelines:"
)


def raw_problem(row: Mapping[str, Any]) -> str:
    """Fallback user turn: the problem as given (curation's `user_prompt` adds the per-domain prefixes)."""
    return row["problem"]


@dataclass(frozen=True)
class PromptSource:
    """The strings the export writes around a teacher's reasoning and solution, and the user turn."""

    system_prompt: str
    begin_thought: str = "<|begin_of_thought|>"
    end_thought: str = "<|end_of_thought|>"
    begin_solution: str = "<|begin_of_solution|>"
    end_solution: str = "<|end_of_solution|>"
    origin: str = "training.prompt_source (fallback)"
    user_text: Callable[[Mapping[str, Any]], str] = field(default=raw_problem, compare=False)


FALLBACK = PromptSource(system_prompt=PUBLISHED_SYSTEM_PROMPT)

#: Attribute names looked up in `curation.prompts` (first match wins) for each field.
_CURATION_NAMES: dict[str, tuple[str, ...]] = {
    "system_prompt": ("REASONING_SYSTEM_PROMPT", "SYSTEM_PROMPT"),
    "begin_thought": ("BEGIN_THOUGHT", "BEGIN_OF_THOUGHT", "THOUGHT_START"),
    "end_thought": ("END_THOUGHT", "END_OF_THOUGHT", "THOUGHT_END"),
    "begin_solution": ("BEGIN_SOLUTION", "BEGIN_OF_SOLUTION", "SOLUTION_START"),
    "end_solution": ("END_SOLUTION", "END_OF_SOLUTION", "SOLUTION_END"),
}


def load_prompt_source(module: str = "thoughtmill.curation.prompts") -> PromptSource:
    """The curation module's strings where it defines them, the published fallback elsewhere."""
    try:
        prompts = importlib.import_module(module)
    except ImportError:
        return FALLBACK
    values: dict[str, Any] = {}
    for field_name, names in _CURATION_NAMES.items():
        for name in names:
            value = getattr(prompts, name, None)
            if isinstance(value, str) and value:
                values[field_name] = value
                break
    user_prompt = getattr(prompts, "user_prompt", None)
    if callable(user_prompt):
        values["user_text"] = user_prompt
    if not values:
        return FALLBACK
    merged = {**FALLBACK.__dict__, **values, "origin": module}
    return PromptSource(**merged)
