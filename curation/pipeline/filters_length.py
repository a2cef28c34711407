"""The response-length filter (``stages.response_length``): a cheap model answers each question with the
published generation prompt, and the questions with the longest answers are kept. OpenThoughts3
filters math and science questions this way (a long answer from a small model is a cheap proxy for a
hard question). The answer itself is not kept; only its length, in column ``response_length``.
"""

from __future__ import annotations

from typing import Any

from thoughtmill.curation.engine import LLM, Response
from thoughtmill.curation.errors import ConfigError
from thoughtmill.curation.pipeline.question_filter import QuestionFilterStage
from thoughtmill.curation.prompts import generation_messages


class AnswerForLength(LLM):
    """One answer per question; its length is the score."""

    def __init__(self, *args: Any, measure: str = "completion_tokens", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.measure = measure

    def prompt(self, row: dict[str, Any]) -> list[dict[str, str]]:
        return generation_messages(row)

    def parse(self, row: dict[str, Any], response: Response) -> dict[str, Any]:
        return {"_position": row["_position"], "score": self.length(response)}

    def length(self, response: Response) -> int:
        """Completion tokens as the model reports them (reasoning included), or characters."""
        if self.measure == "characters":
            return len(response.content or "") + len(response.reasoning_content or "")
        if response.usage.completion_tokens <= 0:
            raise ConfigError(
                f"stages.response_length: teacher '{self.teacher.label}' reports no completion tokens; "
                "set stages.response_length.measure=characters"
            )
        return int(response.usage.completion_tokens)


class ResponseLengthStage(QuestionFilterStage):
    name = "response_length"
    column = "response_length"
    scorer = AnswerForLength

    def scorer_options(self) -> dict[str, Any]:
        return {"measure": self.config.measure}
