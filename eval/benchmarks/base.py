"""The two-method benchmark interface (Evalchemy's shape) plus the pieces the runner needs.

``generate_responses(model)`` asks the model for every (question, repeat) and returns
``{"examples": [...]}`` with ``model_outputs`` and ``model_answers`` attached;
``evaluate_responses(responses)`` scores such a dict and returns the task's results. Because the second
needs nothing but the first's output, scoring runs apart from generation: the runner saves the
generations and `attach` rebuilds the same dict from disk to re-score without the model.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from thoughtmill.eval.backends.base import Model
from thoughtmill.eval.data import read_records
from thoughtmill.eval.errors import DataError, OutputsError
from thoughtmill.eval.types import Generation, GenerationRequest, Sampling

from thoughtmill.benchmarks import benchmark_info
from thoughtmill.hub import HubError, HubLocation, read_hub

logger = logging.getLogger(__name__)


def pick(row: Mapping[str, Any], names: Sequence[str], *, where: str, field: str) -> Any:
    """The first of ``names`` present in ``row``; a DataError naming the row and field otherwise."""
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise DataError(f"{where}: no {field} column (looked for {', '.join(names)}; row has {', '.join(row)})")


class Benchmark(ABC):
    """One benchmark: how it is prompted, sampled, extracted and scored.

    Its name and where its data lives on the Hub are its entry in ``thoughtmill.benchmarks`` (the
    registry decontamination reads too); ``hub`` replaces that location for one run.
    """

    name: ClassVar[str]
    default_repeats: ClassVar[int] = 1

    def __init__(
        self,
        *,
        data_path: str | None = None,
        hub: HubLocation | None = None,
        repeats: int | None = None,
        seed: int = 0,
        temperature: float = 0.7,
        max_new_tokens: int = 32768,
        top_p: float = 1.0,
        system_instruction: str | None = None,
        limit: int | None = None,
    ) -> None:
        self.data_path = data_path
        self.hub_location = hub or benchmark_info(self.name).hub
        self.repeats = repeats if repeats is not None else self.default_repeats
        if self.repeats < 1:
            raise ValueError(f"{self.name}: repeats must be at least 1, got {self.repeats}")
        self.seed = seed
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.top_p = top_p
        self.system_instruction = system_instruction
        self.limit = limit

    # ---- data -------------------------------------------------------------------------------------
    def load_examples(self) -> list[dict[str, Any]]:
        """The benchmark's questions, normalised by `prepare`, from a local file or the hub."""
        if self.data_path:
            rows, origin = read_records(self.data_path), str(self.data_path)
        else:
            rows, origin = self.load_hub_rows(), self.hub_location.describe()
        if self.limit is not None:
            rows = rows[: self.limit]
        if not rows:
            raise DataError(f"{self.name}: {origin} has no rows")
        examples = [self.prepare(row, where=f"{self.name} {origin} row {i}") for i, row in enumerate(rows)]
        logger.info("%s: loaded %d questions from %s", self.name, len(examples), origin)
        return examples

    def load_hub_rows(self) -> list[dict[str, Any]]:
        """Every row of the benchmark's Hub data (downloaded, or read from the local Hub cache)."""
        try:
            return read_hub(self.hub_location).to_list()
        except HubError as exc:
            hint = f"pass its local file (--data {self.name}=PATH, or data_path=)"
            raise DataError(exc.explain(self.name, hint)) from exc

    @abstractmethod
    def prepare(self, row: dict[str, Any], *, where: str) -> dict[str, Any]:
        """Check one raw row and add what prompting and scoring need."""

    # ---- prompting and sampling -------------------------------------------------------------------
    @abstractmethod
    def user_prompt(self, example: dict[str, Any]) -> str:
        """The user message for one question (the benchmark's prompt template)."""

    def messages(self, example: dict[str, Any]) -> tuple[dict[str, str], ...]:
        messages = [{"role": "user", "content": self.user_prompt(example)}]
        if self.system_instruction:
            messages.insert(0, {"role": "system", "content": self.system_instruction})
        return tuple(messages)

    def sampling(self, repeat: int) -> Sampling:
        return Sampling(self.temperature, self.max_new_tokens, self.top_p, seed=self.seed + repeat)

    def requests(self, examples: Sequence[dict[str, Any]]) -> list[GenerationRequest]:
        """Every (question, repeat) request, repeat-major like Evalchemy's loop."""
        return [
            GenerationRequest(self.name, index, repeat, self.messages(example), self.sampling(repeat))
            for repeat in range(self.repeats)
            for index, example in enumerate(examples)
        ]

    # ---- extraction -------------------------------------------------------------------------------
    @abstractmethod
    def extract(self, output: str) -> Any:
        """The answer a model output commits to (boxed expression, letter, program)."""

    def attach(
        self, examples: Sequence[dict[str, Any]], generations: Mapping[str, Generation]
    ) -> dict[str, Any]:
        """``{"examples": [...]}`` with each question's outputs and extracted answers, from generations
        keyed by request key; every (question, repeat) must be present."""
        missing = [r.key for r in self.requests(examples) if r.key not in generations]
        if missing:
            raise OutputsError(
                f"{self.name}: {len(missing)} of {len(examples) * self.repeats} generations are missing "
                f"(first: {', '.join(missing[:3])}); finish generation before scoring"
            )
        out = []
        for index, example in enumerate(examples):
            gens = [generations[f"{self.name}/{index}/{r}"] for r in range(self.repeats)]
            enriched = dict(example)
            enriched["model_outputs"] = [g.text for g in gens]
            enriched["model_answers"] = [self.extract(g.text) for g in gens]
            enriched["finish_reasons"] = [g.finish_reason for g in gens]
            out.append(enriched)
        return {"examples": out}

    # ---- the two-method interface -----------------------------------------------------------------
    def generate_responses(self, model: Model) -> dict[str, Any]:
        """Ask ``model`` for every response (in memory; the runner adds saving and resuming)."""
        examples = self.load_examples()
        generations = {request.key: gen for request, gen in model.generate(self.requests(examples))}
        return self.attach(examples, generations)

    @abstractmethod
    def evaluate_responses(self, responses: dict[str, Any]) -> dict[str, Any]:
        """Score ``{"examples": [...]}`` and return the task's results (Evalchemy's keys)."""

    def settings(self) -> dict[str, Any]:
        """What this task was run with, for the results file."""
        return {
            "repeats": self.repeats,
            "seeds": [self.seed + r for r in range(self.repeats)],
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
            "top_p": self.top_p,
            "system_instruction": self.system_instruction,
            "data": str(self.data_path) if self.data_path else self.hub_location.describe(),
            "limit": self.limit,
        }
