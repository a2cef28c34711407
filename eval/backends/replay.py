"""Answer from a file of recorded outputs instead of a live model.

For scoring outputs produced elsewhere (another harness, a colleague's run) through the same saving
and scoring path, and for exercising the whole pipeline on a laptop. The file is JSON Lines of
``{"match": <substring of the last user message>, "content": ..., "seed"?: int}`` — the same script
format as the engine's fake teacher — and the first row whose ``match`` occurs in the prompt and whose
``seed`` (when given) equals the request's seed answers it. Requests nothing matches are left
unanswered and show up as missing generations.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from thoughtmill.eval.data.files import read_records
from thoughtmill.eval.errors import BackendError
from thoughtmill.eval.types import Generation, GenerationRequest


class ReplayModel:
    """Recorded answers looked up by prompt substring and seed."""

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.path = Path(path)
        self.rows = read_records(self.path)
        for number, row in enumerate(self.rows, start=1):
            if not isinstance(row.get("match"), str) or not isinstance(row.get("content"), str):
                raise BackendError(f"{self.path}: row {number} needs string 'match' and 'content' fields")
        self.name = name or self.path.stem

    def describe(self) -> dict[str, Any]:
        return {"backend": "replay", "path": str(self.path), "rows": len(self.rows)}

    def answer(self, request: GenerationRequest) -> dict[str, Any] | None:
        users = [m["content"] for m in request.messages if m.get("role") == "user"]
        prompt = users[-1] if users else ""
        for row in self.rows:
            if row["match"] in prompt and row.get("seed") in (None, request.sampling.seed):
                return row
        return None

    def generate(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[GenerationRequest, Generation]]:
        for request in requests:
            row = self.answer(request)
            if row is not None:
                yield (
                    request,
                    Generation(
                        content=row["content"],
                        reasoning_content=row.get("reasoning_content"),
                        finish_reason=row.get("finish_reason", "stop"),
                    ),
                )
