"""One verified row -> one LLaMA-Factory sharegpt record (system + user/assistant turns).

Two assistant layouts: the published OpenThoughts markers (thought block, then solution block) and the
`<think>` layout newer students expect. The strings come from `prompt_source`, never typed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from thoughtmill.training.errors import ExportError
from thoughtmill.training.prompt_source import PromptSource, load_prompt_source

Layout = Literal["markers", "think"]
LAYOUTS: tuple[str, ...] = ("markers", "think")

#: sharegpt tags written by the export and declared in dataset_info.json.
ROLE_TAG, CONTENT_TAG, USER_TAG, ASSISTANT_TAG = "from", "value", "user", "assistant"
MESSAGES_COLUMN, SYSTEM_COLUMN = "conversations", "system"


@dataclass(frozen=True)
class Formatter:
    """Turns rows into records; built once per export so the prompt source is read once."""

    layout: Layout = "markers"
    system_prompt: str = ""
    source: PromptSource | None = None

    @classmethod
    def create(cls, layout: str = "markers", system: str = "openthoughts") -> Formatter:
        """`system`: 'openthoughts' (the published prompt), 'none' (empty), or the literal text to use."""
        if layout not in LAYOUTS:
            raise ExportError(f"unknown layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
        source = load_prompt_source()
        if system == "openthoughts":
            text = source.system_prompt
        elif system == "none":
            text = ""
        else:
            text = system
        return cls(layout=layout, system_prompt=text, source=source)  # type: ignore[arg-type]

    def assistant_text(self, reasoning: str, solution: str) -> str:
        """The assistant turn in the chosen layout."""
        if self.layout == "think":
            return f"<think>\n{reasoning.strip()}\n</think>\n\n{solution.strip()}"
        s = self.source or load_prompt_source()
        # Not stripped: the published layout keeps the teacher's text exactly.
        return (
            f"{s.begin_thought}\n\n{reasoning}\n\n{s.end_thought}\n\n"
            f"{s.begin_solution}\n\n{solution}\n\n{s.end_solution}"
        )

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        """The sharegpt record of one row; names the row id and field when one is unusable."""
        row_id = row.get("id", "<no id>")
        texts = {}
        for field in ("problem", "deepseek_reasoning", "deepseek_solution"):
            value = row.get(field)
            if not isinstance(value, str) or not value.strip():
                raise ExportError(f"row {row_id}: field {field!r} is empty or not a string ({value!r:.40})")
            texts[field] = value
        source = self.source or load_prompt_source()
        try:
            user = source.user_text(row)
        except Exception as err:  # curation's InputError or a KeyError: name the row either way
            raise ExportError(f"row {row_id}: cannot build the user turn ({err})") from err
        return {
            "id": row_id,
            SYSTEM_COLUMN: self.system_prompt,
            MESSAGES_COLUMN: [
                {ROLE_TAG: USER_TAG, CONTENT_TAG: user},
                {
                    ROLE_TAG: ASSISTANT_TAG,
                    CONTENT_TAG: self.assistant_text(texts["deepseek_reasoning"], texts["deepseek_solution"]),
                },
            ],
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
