"""The small user-facing class: subclass ``LLM``, write ``prompt`` and ``parse``, call it on rows.

    class Solve(LLM):
        system_prompt = "You are a careful mathematician."
        def prompt(self, row):
            return row["problem"]
        def parse(self, row, response):
            return {**row, "answer": response.content}

    out = Solve("deepseek-r1", working_dir="runs/x")(dataset)   # a memory-mapped datasets.Dataset

Cached answers are keyed by the request alone, so editing ``parse`` and re-running costs nothing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import datasets
from pydantic import BaseModel, ValidationError
from thoughtmill.curation.engine.backends import Backend
from thoughtmill.curation.engine.budget import check_budget
from thoughtmill.curation.engine.config import TeacherConfig, load_teacher
from thoughtmill.curation.engine.endpoint_lineage import resolve_endpoint
from thoughtmill.curation.engine.errors import InvalidStructuredOutput
from thoughtmill.curation.engine.progress import Listener
from thoughtmill.curation.engine.report import check_max_failure_rate, report_failures
from thoughtmill.curation.engine.request import Request, Response
from thoughtmill.curation.engine.rows import iter_rows
from thoughtmill.curation.engine.runner import Engine
from thoughtmill.curation.errors import ConfigError, CurationError, InputError


def default_working_dir() -> Path:
    return Path(os.environ.get("THOUGHTMILL_CACHE", Path.home() / ".cache" / "thoughtmill"))


class LLM:
    """Map rows to teacher requests and teacher answers back to rows."""

    #: system prompt prepended to every request (part of the cache key)
    system_prompt: ClassVar[str | None] = None
    #: pydantic model for structured output; ``response.parsed`` holds the validated object
    response_format: ClassVar[type[BaseModel] | None] = None

    def __init__(
        self,
        teacher: TeacherConfig | str | Path | dict[str, Any],
        *,
        working_dir: str | Path | None = None,
        name: str | None = None,
        system_prompt: str | None = None,
        response_format: type[BaseModel] | None = None,
        generation: dict[str, Any] | None = None,
        max_in_flight: int | None = None,
        on_failure: Literal["record", "raise"] = "record",
        progress: bool = True,
        backend: Backend | None = None,
        wait_for_lock: bool | float = False,
        require_all: bool = False,
        max_failure_rate: float | None = None,
        budget_usd: float | None = None,
        on_progress: Listener | None = None,
        earlier_caches: Sequence[Path] = (),
    ) -> None:
        self.teacher = load_teacher(teacher)
        self.working_dir = Path(working_dir) if working_dir else default_working_dir()
        self.name = name or type(self).__name__
        if system_prompt is not None:
            self.system_prompt = system_prompt
        if response_format is not None:
            self.response_format = response_format
        self.generation_overrides = dict(generation or {})
        _refuse_many_completions({**self.teacher.generation, **self.generation_overrides}, ConfigError)
        self.max_in_flight = max_in_flight
        self.on_failure = on_failure
        self.progress = progress
        self.backend = backend
        self.wait_for_lock = wait_for_lock  # another process running in the same run directory: wait?
        self.require_all = require_all  # raise IncompleteRun if any row failed (after writing the rest)
        self.max_failure_rate = check_max_failure_rate(max_failure_rate)  # ... or more than this fraction
        self.budget_usd = check_budget(budget_usd)  # stop sending before the answers cost more than this
        self.on_progress = on_progress  # called with the run's RunStats on every progress tick
        self.earlier_caches = list(earlier_caches)  # read through when a key is missing from ours
        self._schema = self.response_format.model_json_schema() if self.response_format else None
        self._endpoint: str | None = None  # the teacher's endpoint identity, worked out once per run
        self.last_run: Engine | None = None

    # ------------------------------------------------------------------ to override
    def prompt(self, row: dict[str, Any]) -> str | list[dict[str, Any]]:
        """The user message (a string) or the whole message list for one row."""
        raise NotImplementedError(f"{type(self).__name__} must define prompt(row)")

    def parse(self, row: dict[str, Any], response: Response) -> dict[str, Any] | list[dict[str, Any]]:
        """Output row(s) for one answer; the default keeps the row and adds the answer."""
        if response.parsed is not None:
            return {**row, **response.parsed.model_dump()}
        return {**row, "response": response.content, "reasoning_content": response.reasoning_content}

    def generation_params(self, row: dict[str, Any]) -> dict[str, Any]:
        """Per-row generation overrides (e.g. a seed per repeat); merged over the teacher's."""
        return {}

    def replay_key(self, row: dict[str, Any]) -> str | None:
        """What a replay teacher matches this row on; None means the last user message."""
        return None

    # ------------------------------------------------------------------ running
    def __call__(self, data: Any, *, output_dir: str | Path | None = None) -> datasets.Dataset:
        """Run over a Dataset, a list of dicts or any iterable of dicts; return the results."""
        batch = self.teacher.mode == "batch"
        if batch and iter(data) is data:  # a one-shot iterator: batch mode reads the rows twice
            data = list(data)
        rows, total = iter_rows(data)
        if total == 0:
            raise InputError(f"{self.name}: the input has no rows; nothing to generate")
        run_dir = Path(output_dir) if output_dir else self.working_dir / "runs" / self.name
        engine = Engine(
            self.teacher,
            cache_dir=self.working_dir / "cache",
            run_dir=run_dir,
            backend=self.backend,
            max_in_flight=self.max_in_flight,
            on_failure=self.on_failure,
            progress=self.progress,
            label=self.name,
            wait_for_lock=self.wait_for_lock,
            budget_usd=self.budget_usd,
            on_progress=self.on_progress,
            batch_requests=(lambda: self._requests(data)) if batch else None,
            earlier_caches=self.earlier_caches,
        )
        self.last_run = engine
        # worked out afresh each run: a replay file re-recorded since the last run gets new keys
        self._endpoint = resolve_endpoint(engine.cache, self.teacher)
        seen = {"any": False}

        def counted() -> Any:
            for row in rows:
                seen["any"] = True
                yield row

        try:
            result = engine.run(
                counted(),
                self.build_request,
                self._handle,
                validate=self._validate if self.response_format else None,
                total=total,
            )
        finally:
            engine.cache.close()
        if not seen["any"]:
            raise InputError(f"{self.name}: the input has no rows; nothing to generate")
        report_failures(
            self.name,
            engine.stats,
            engine.paths.failures,
            result,
            engine.paths.dataset,
            require_all=self.require_all,
            max_failure_rate=self.max_failure_rate,
        )
        return result

    @property
    def stats(self) -> dict[str, Any]:
        return self.last_run.stats.to_dict() if self.last_run else {}

    # ------------------------------------------------------------------ internals
    def build_request(self, index: int, row: dict[str, Any]) -> Request:
        """The canonical request for a row; errors name the row and what was expected."""
        if not isinstance(row, dict):
            raise InputError(f"row {index}: expected a mapping of column -> value, got {type(row).__name__}")
        try:
            prompt = self.prompt(row)
            row_params = self.generation_params(row)
            params = {**self.teacher.generation, **self.generation_overrides, **row_params}
            replay_key = self.replay_key(row)
        except KeyError as exc:
            raise InputError(
                f"row {index}: {type(self).__name__}.prompt() needs column {exc} which the row lacks "
                f"(columns: {', '.join(map(str, row)) or 'none'})"
            ) from exc
        except CurationError:
            raise
        except Exception as exc:
            raise InputError(
                f"row {index}: {type(self).__name__}.prompt() raised {type(exc).__name__}: {exc}"
            ) from exc
        if "n" in row_params:
            _refuse_many_completions(params, InputError, f"row {index}: ")
        messages = self._messages(index, prompt)
        return Request(
            model=self.teacher.model,
            messages=tuple(messages),
            params=params,
            response_schema=self._schema,
            endpoint=self._endpoint_identity(),
            replay_key=replay_key,
        )

    def _requests(self, data: Any) -> Iterator[Request]:
        """Every row's request, in input order (what ``mode: batch`` sends before the rows run)."""
        rows, _ = iter_rows(data)
        for index, row in enumerate(rows):
            yield self.build_request(index, row)

    def _endpoint_identity(self) -> str:
        """Computed once per run, not per row (a replay teacher stat()s its recording); in a run it
        comes from the cache's record of the teacher's replicas (``endpoint_lineage``)."""
        if self._endpoint is None:
            self._endpoint = self.teacher.endpoint_identity()
        return self._endpoint

    def _messages(self, index: int, prompt: Any) -> list[dict[str, Any]]:
        if isinstance(prompt, str):
            messages = [{"role": "user", "content": prompt}]
        elif isinstance(prompt, list) and all(
            isinstance(m, dict) and "role" in m and "content" in m for m in prompt
        ):
            messages = [dict(m) for m in prompt]
        else:
            raise InputError(
                f"row {index}: prompt() must return a string or a list of {{'role', 'content'}} messages, "
                f"got {type(prompt).__name__}"
            )
        for m in messages:
            if not isinstance(m["content"], (str, list)):
                raise InputError(
                    f"row {index}: message content must be a string, got {type(m['content']).__name__} "
                    f"for role '{m['role']}'"
                )
        if self.system_prompt and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        if self._schema is not None and self.teacher.structured_output != "json_schema":
            last = messages[-1]
            last["content"] = (
                f"{last['content']}\n\nReply with a single JSON object, and nothing else, that follows this "
                f"JSON schema:\n{json.dumps(self._schema)}"
            )
        return messages

    def _validate(self, response: Response) -> None:
        assert self.response_format is not None
        text = _strip_fences(response.content)
        try:
            response.parsed = self.response_format.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<reply>"
            raise InvalidStructuredOutput(
                f"reply does not match {self.response_format.__name__}: {where}: {first['msg']}",
                raw=response.content,
            ) from exc

    def _handle(self, index: int, row: dict[str, Any], response: Response) -> list[dict[str, Any]]:
        result = self.parse(row, response)
        if isinstance(result, dict):
            return [result]
        if isinstance(result, list) and all(isinstance(r, dict) for r in result):
            return result
        raise InputError(
            f"row {index}: {type(self).__name__}.parse() must return a dict or a list of dicts, "
            f"got {type(result).__name__}"
        )


def _refuse_many_completions(params: dict[str, Any], error: type[CurationError], where: str = "") -> None:
    """``n > 1`` would bill n completions per request while the engine keeps one: refuse it."""
    n = params.get("n")
    if n is not None and n != 1:
        raise error(
            f"{where}generation n={n} asks the teacher for {n} completions per request and bills them all, "
            "but the engine keeps only one; leave n out (or n=1) and repeat rows instead, e.g. one row per "
            "sample with its own seed from generation_params()"
        )


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def _strip_fences(text: str) -> str:
    match = _FENCE.match(text)
    return match.group(1) if match else text
