"""The published prompts, pinned by digest, and the per-domain dispatch."""

from __future__ import annotations

import hashlib
import json

import pytest
from thoughtmill.curation import prompts
from thoughtmill.curation.errors import InputError


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_prompts_are_the_published_texts() -> None:
    # Digests of the published OpenThoughts strings (Sky-T1 training prompt, DeepSeek-R1 generation prompt).
    assert digest(prompts.REASONING_SYSTEM_PROMPT) == (
        "6490a490932e93a0712ec83d53b79036a10059ccdbf786e088ac9c247aa19141"
    )
    assert digest(prompts.GENERATION_SYSTEM_PROMPT) == (
        "e5da37d830e287c2392e4fa37185640997ac0ec788a3dead9419161ef787d8c5"
    )
    assert "separated with '\\n\\n'" in prompts.REASONING_SYSTEM_PROMPT  # literal backslashes, as published


def row(domain: str, **extra: str) -> dict[str, str]:
    return {"id": "r1", "domain": domain, "problem": "PROBLEM", "test_cases": "", "starter_code": ""} | extra


def test_user_prompt_per_domain() -> None:
    assert prompts.user_prompt(row("math")) == "Return your final response within \\boxed{}. PROBLEM"
    assert prompts.user_prompt(row("science")) == "PROBLEM"
    assert prompts.user_prompt(row("puzzle")) == "PROBLEM"
    stdin = prompts.user_prompt(row("code", test_cases=json.dumps({"inputs": ["1"], "outputs": ["1"]})))
    assert stdin == prompts.CODE_STDIN_PREFIX + "PROBLEM\n"
    assert stdin.endswith("Simply call the function after the definition.PROBLEM\n")
    call = prompts.user_prompt(
        row(
            "code",
            test_cases=json.dumps({"inputs": [[1]], "outputs": [1], "fn_name": "f"}),
            starter_code="def f(x):",
        )
    )
    assert call == prompts.CODE_CALL_PREFIX + "PROBLEM\ndef f(x):"


def test_bad_rows_are_named() -> None:
    with pytest.raises(InputError, match=r"'r1'.*unknown domain 'art'"):
        prompts.user_prompt(row("art"))
    with pytest.raises(InputError, match="not valid JSON"):
        prompts.user_prompt(row("code", test_cases="{oops"))
    with pytest.raises(InputError, match="'r1' has no 'deepseek_reasoning'"):
        prompts.training_conversation(row("math"))


def test_training_conversation_layout() -> None:
    example = prompts.training_conversation(
        row("math", deepseek_reasoning="THINK", deepseek_solution="ANSWER")
    )
    assert example["system"] == prompts.REASONING_SYSTEM_PROMPT
    user, assistant = example["conversations"]
    assert user == {"from": "user", "value": "Return your final response within \\boxed{}. PROBLEM"}
    assert assistant["from"] == "assistant"
    assert assistant["value"] == (
        "<|begin_of_thought|>\n\nTHINK\n\n<|end_of_thought|>\n\n"
        "<|begin_of_solution|>\n\nANSWER\n\n<|end_of_solution|>"
    )
    messages = prompts.generation_messages(row("puzzle"))
    assert messages == [
        {"role": "system", "content": prompts.GENERATION_SYSTEM_PROMPT},
        {"role": "user", "content": "PROBLEM"},
    ]
