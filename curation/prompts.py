"""The published OpenThoughts prompts, word for word, and the training format: the one home of these texts.

Standard library only: the training side imports this module by name from its own environment (the
repository on ``PYTHONPATH``, none of the engine's dependencies), so the exported conversations and the
pipeline's "default" layout are built from the same strings and the same per-domain user turns.

Two system prompts exist and they differ on purpose: the teacher (DeepSeek-R1) is asked for a long
reasoning process with a short system prompt; the student is trained with the structured Sky-T1
prompt that names the ``<|begin_of_thought|>``/``<|begin_of_solution|>`` markers its answers use.
Typos in the published texts ("analisying") are kept: the trained models saw exactly these strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from thoughtmill.curation.errors import InputError

BEGIN_OF_THOUGHT = "<|begin_of_thought|>"
END_OF_THOUGHT = "<|end_of_thought|>"
BEGIN_OF_SOLUTION = "<|begin_of_solution|>"
END_OF_SOLUTION = "<|end_of_solution|>"

#: System prompt sent to the teacher when generating traces (the published text, newlines included).
GENERATION_SYSTEM_PROMPT = (
    "\n"
    "Your role as an assistant involves thoroughly exploring questions through a systematic long thinking process\n"
    "before providing the final precise and accurate solutions. This requires engaging in a comprehensive cycle of\n"
    "analysis, summarizing, exploration, reassessment, reflection, backtracing, and iteration to develop "
    "well-considered\n"
    "thinking process.\n"
)

#: System prompt of the training conversations. ``'\\n\\n'`` is literally backslash-n twice, as published.
REASONING_SYSTEM_PROMPT = (
    "Your role as an assistant involves thoroughly exploring questions through a systematic long thinking "
    "process before providing the final precise and accurate solutions. This requires engaging in a "
    "comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, backtracing, and "
    "iteration to develop well-considered thinking process. Please structure your response into two main "
    "sections: Thought and Solution. In the Thought section, detail your reasoning process using the "
    f"specified format: {BEGIN_OF_THOUGHT} {{thought with steps separated with '\\n\\n'}} {END_OF_THOUGHT} "
    "Each step should include detailed considerations such as analisying questions, summarizing relevant "
    "findings, brainstorming new ideas, verifying the accuracy of the current steps, refining any errors, "
    "and revisiting previous steps. In the Solution section, based on various attempts, explorations, and "
    "reflections from the Thought section, systematically present the final solution that you deem "
    "correct. The solution should remain a logical, accurate, concise expression style and detail necessary "
    f"step needed to reach the conclusion, formatted as follows: {BEGIN_OF_SOLUTION} {{final formatted, "
    f"precise, and clear solution}} {END_OF_SOLUTION} Now, try to solve the following question through the "
    "above guidelines:"
)

MATH_PROMPT_PREFIX = "Return your final response within \\boxed{}. "

#: Code problems read from stdin and print (no ``fn_name`` in the tests).
CODE_STDIN_PREFIX = (
    "Generate an executable Python function generated from the given prompt. The function should take "
    "stdin as input and print the output. Simply call the function after the definition."
)
#: Code problems checked by calling a function (``fn_name`` in the tests; starter code appended).
CODE_CALL_PREFIX = (
    "Generate an executable Python function generated from the given prompt. Return the function body "
    "without invoking it at the final solution."
)


#: ShareGPT tags of the training conversations (the published "default" layout, LLaMA-Factory's sharegpt).
ROLE_TAG, CONTENT_TAG, USER_TAG, ASSISTANT_TAG = "from", "value", "user", "assistant"

#: Builds the user turn of one uniform-schema row.
UserPrompt = Callable[[Mapping[str, Any]], str]


def is_call_based(test_cases: str | Mapping[str, Any] | None) -> bool:
    """True when the tests name a function to call (``fn_name``), False for stdin/stdout problems."""
    if not test_cases:
        return False
    if isinstance(test_cases, str):
        try:
            test_cases = json.loads(test_cases)
        except json.JSONDecodeError as exc:
            raise InputError(f"test_cases is not valid JSON ({exc}): {test_cases[:80]!r}") from exc
    return isinstance(test_cases, Mapping) and bool(test_cases.get("fn_name"))


def code_prompt(problem: str, test_cases: str | Mapping[str, Any] | None, starter_code: str | None) -> str:
    """The published code prompt: instruction, statement glued on, then a newline and the starter code.

    As published, the newline is appended even when the starter code is empty.
    """
    prefix = CODE_CALL_PREFIX if is_call_based(test_cases) else CODE_STDIN_PREFIX
    return f"{prefix}{problem}\n{starter_code or ''}"


def math_prompt(problem: str) -> str:
    """The published math prompt: ask for the final answer in ``\\boxed{}``."""
    return f"{MATH_PROMPT_PREFIX}{problem}"


def code_user_prompt(row: Mapping[str, Any]) -> str:
    return code_prompt(row["problem"], row.get("test_cases"), row.get("starter_code"))


def math_user_prompt(row: Mapping[str, Any]) -> str:
    return math_prompt(row["problem"])


def question_user_prompt(row: Mapping[str, Any]) -> str:
    """The raw question (science and puzzles, as published)."""
    return row["problem"]


#: Registry: domain -> its user turn. The published four are here; a new domain's prompt arrives
#: through ``curation.judges.registry.register_domain`` (which calls ``register_user_prompt``).
USER_PROMPTS: dict[str, UserPrompt] = {
    "code": code_user_prompt,
    "math": math_user_prompt,
    "science": question_user_prompt,
    "puzzle": question_user_prompt,
}


def register_user_prompt(domain: str, prompt: UserPrompt) -> UserPrompt:
    """Give ``domain`` its user turn; re-registering the same function is a no-op, another is an error."""
    known = USER_PROMPTS.get(domain)
    if known is not None and known is not prompt:
        raise ValueError(f"domain {domain!r} already has a user prompt ({known.__qualname__})")
    USER_PROMPTS[domain] = prompt
    return prompt


def user_prompt(row: Mapping[str, Any]) -> str:
    """The user turn for a uniform-schema row, by its domain's registered prompt."""
    try:
        domain = row["domain"]
        row["problem"]
    except KeyError as exc:
        raise InputError(f"row {row.get('id', '?')!r} has no {exc.args[0]!r} field") from exc
    prompt = USER_PROMPTS.get(domain)
    if prompt is None:
        raise InputError(
            f"row {row.get('id', '?')!r}: unknown domain {domain!r}; expected one of {sorted(USER_PROMPTS)}"
        )
    return prompt(row)


def generation_messages(row: Mapping[str, Any]) -> list[dict[str, str]]:
    """Chat messages sent to the teacher for one row (published generation system prompt + user turn)."""
    return [
        {"role": "system", "content": GENERATION_SYSTEM_PROMPT},
        {"role": "user", "content": user_prompt(row)},
    ]


def assistant_turn(reasoning: str, solution: str) -> str:
    """The training-format answer: the thought block, then the solution block (texts kept exactly)."""
    return (
        f"{BEGIN_OF_THOUGHT}\n\n{reasoning}\n\n{END_OF_THOUGHT}\n\n"
        f"{BEGIN_OF_SOLUTION}\n\n{solution}\n\n{END_OF_SOLUTION}"
    )


def conversation_turns(user: str, assistant: str) -> list[dict[str, str]]:
    """The two ShareGPT turns of one training example."""
    return [
        {ROLE_TAG: USER_TAG, CONTENT_TAG: user},
        {ROLE_TAG: ASSISTANT_TAG, CONTENT_TAG: assistant},
    ]


def training_conversation(
    row: Mapping[str, Any],
    *,
    reasoning_field: str = "deepseek_reasoning",
    solution_field: str = "deepseek_solution",
) -> dict[str, Any]:
    """One ShareGPT-style training example (the published "default" layout) from a generated row."""
    for name in (reasoning_field, solution_field):
        if row.get(name) is None:
            raise InputError(f"row {row.get('id', '?')!r} has no {name!r}: generate before exporting")
    return {
        "system": REASONING_SYSTEM_PROMPT,
        "conversations": conversation_turns(
            user_prompt(row), assistant_turn(row[reasoning_field], row[solution_field])
        ),
    }
