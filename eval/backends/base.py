"""What every model backend offers: turn generation requests into generations, in any order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from thoughtmill.eval.types import Generation, GenerationRequest


@runtime_checkable
class Model(Protocol):
    """A model under evaluation. ``generate`` yields results as they are ready so the runner can
    save each one at once (an interrupted run then resumes where it stopped)."""

    name: str

    def generate(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[GenerationRequest, Generation]]: ...

    def describe(self) -> dict[str, Any]:
        """Settings recorded in the results file's ``config``."""
        ...
