"""The difficulty filter (``stages.difficulty``): a judge model rates each question 1-10 and the hardest
are kept. OpenThoughts3 rates code questions this way (an LLM-judged difficulty beat every other code
filter in the paper's ablations).

The rating is structured output ``{"reasoning": str, "difficulty": int}``, validated strictly: an
integer from 1 to 10 and nothing else (no "7", no 7.5, no 11); a reply that is not one is retried by
the engine and, if it never is, left unscored (the stage stays incomplete and asks again next run).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from thoughtmill.curation.engine import LLM, Response
from thoughtmill.curation.pipeline.question_filter import QuestionFilterStage

DIFFICULTY_SYSTEM_PROMPT = (
    "You rate how difficult problems are for a strong student or competitive programmer. 1 means a "
    "routine exercise solved in a minute; 5 a problem needing a known technique and careful work; 10 one "
    "of the hardest olympiad or contest problems. Judge the problem itself: do not solve it."
)


class DifficultyRating(BaseModel):
    reasoning: str = Field(description="one or two sentences on what makes the problem easy or hard")
    difficulty: int = Field(ge=1, le=10, strict=True, description="1 (routine) to 10 (hardest contests)")


class RateDifficulty(LLM):
    """One rating request per question."""

    system_prompt = DIFFICULTY_SYSTEM_PROMPT
    response_format = DifficultyRating

    def prompt(self, row: dict[str, Any]) -> str:
        return (
            f"Domain: {row['domain']}\n\nProblem:\n{row['problem']}\n\n"
            'Rate its difficulty. Reply with JSON {"reasoning": "<one or two sentences>", '
            '"difficulty": <an integer from 1 to 10>}.'
        )

    def parse(self, row: dict[str, Any], response: Response) -> dict[str, Any]:
        rating: DifficultyRating = response.parsed
        return {"_position": row["_position"], "score": rating.difficulty}


class DifficultyStage(QuestionFilterStage):
    name = "difficulty"
    column = "difficulty"
    scorer = RateDifficulty
