"""One verified row -> one LLaMA-Factory sharegpt record (system + user/assistant turns).

Two assistant layouts: the published OpenThoughts markers (thought block, then solution block) and the
`<think>` layout newer students expect. The system prompt, markers, per-domain user turns and sharegpt
tags come from `thoughtmill.curation.prompts` (standard library only, importable from the train
environment), never typed here: an export and the pipeline's "default" layout are the same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from thoughtmill.curation import prompts
from thoughtmill.curation.prompts import (
    ASSISTANT_TAG,
    CONTENT_TAG,
    ROLE_TAG,
    USER_TAG,
    assistant_turn,
    conversation_turns,
    user_prompt,
)
from thoughtmill.training.errors import ExportError

Layout = Literal["markers", "think"]
LAYOUTS: tuple[str, ...] = ("markers", "think")

#: Columns of the sharegpt records (the tags are the published ones, from `curation.prompts`).
MESSAGES_COLUMN, SYSTEM_COLUMN = "conversations", "system"


@dataclass(frozen=True)
class Formatter:
    """Turns rows into records in one layout with one system prompt."""

    layout: Layout = "markers"
    system_prompt: str = ""

    @classmethod
    def create(cls, layout: str = "markers", system: str = "openthoughts") -> Formatter:
        """`system`: 'openthoughts' (the published prompt), 'none' (empty), or the literal text to use."""
        if layout not in LAYOUTS:
            raise ExportError(f"unknown layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
        if system == "openthoughts":
            text = prompts.REASONING_SYSTEM_PROMPT
        elif system == "none":
            text = ""
        else:
            text = system
        return cls(layout=layout, system_prompt=text)  # type: ignore[arg-type]

    @property
    def origin(self) -> str:
        """The module the published texts come from (recorded in the export summary)."""
        return prompts.__name__

    def assistant_text(self, reasoning: str, solution: str) -> str:
        """The assistant turn in the chosen layout."""
        if self.layout == "think":
            return f"<think>\n{reasoning.strip()}\n</think>\n\n{solution.strip()}"
        return assistant_turn(reasoning, solution)  # not stripped: the teacher's text exactly

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        """The sharegpt record of one row; names the row id and field when one is unusable."""
        row_id = row.get("id", "<no id>")
        texts = {}
        for field in ("problem", "deepseek_reasoning", "deepseek_solution"):
            value = row.get(field)
            if not isinstance(value, str) or not value.strip():
                raise ExportError(f"row {row_id}: field {field!r} is empty or not a string ({value!r:.40})")
            texts[field] = value
        try:
            user = user_prompt(row)
        except Exception as err:  # curation's InputError or a KeyError: name the row either way
            raise ExportError(f"row {row_id}: cannot build the user turn ({err})") from err
        return {
            "id": row_id,
            SYSTEM_COLUMN: self.system_prompt,
            MESSAGES_COLUMN: conversation_turns(
                user, self.assistant_text(texts["deepseek_reasoning"], texts["deepseek_solution"])
            ),
        }


def dataset_info_entry(file_name: str) -> dict[str, Any]:
    """The dataset_info.json entry that maps our columns and tags explicitly (system included)."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": MESSAGES_COLUMN, "system": SYSTEM_COLUMN},
        "tags": {
            "role_tag": ROLE_TAG,
            "content_tag": CONTENT_TAG,
            "user_tag": USER_TAG,
            "assistant_tag": ASSISTANT_TAG,
        },
    }
