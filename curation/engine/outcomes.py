"""What becomes of each row: its answer parsed into output rows, or a failure on record.

A bug in the user's ``parse`` fails its row only (the cached answer stays, so fixing ``parse`` and
re-running costs nothing); an ``InputError`` (the user's rows or results are malformed) stops the
run, as does any failure when ``on_failure='raise'``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, Literal

from thoughtmill.curation.engine.progress import RunStats
from thoughtmill.curation.engine.request import Response
from thoughtmill.curation.engine.run_files import RunRecords
from thoughtmill.curation.engine.sender import ValidateFn
from thoughtmill.curation.engine.writer import ShardWriter
from thoughtmill.curation.errors import CurationError, InputError

HandleFn = Callable[[int, dict[str, Any], Response], list[dict[str, Any]]]
StopFn = Callable[[BaseException], None]


class Outcomes:
    """Turns answers into output rows and failures into records, counting both in ``stats``."""

    def __init__(
        self,
        *,
        handle: HandleFn,
        validate: ValidateFn | None,
        writer: ShardWriter,
        records: RunRecords,
        stats: RunStats,
        drop_cut_answers: bool,
        on_failure: Literal["record", "raise"],
        stop: StopFn,
    ) -> None:
        self.handle = handle
        self.validate = validate
        self.writer = writer
        self.records = records
        self.stats = stats
        self.drop_cut_answers = drop_cut_answers
        self.on_failure = on_failure
        self.stop = stop

    def deliver(self, index: int, row: dict[str, Any], response: Response) -> None:
        if self.drop_cut_answers and response.finish_reason == "length":
            self.fail(index, "length", "answer cut at max_tokens (on_length: drop)")
            return
        try:
            if self.validate is not None and response.parsed is None:
                self.validate(response)
            rows = self.handle(index, row, response)
        except InputError as exc:
            self.stop(exc)
            return
        except Exception as exc:  # a bug in parse fails its row; the cached answer stays
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.fail(index, "parse", f"parse() raised {detail}")
            return
        try:
            self.writer.add(index, rows)
        except InputError as exc:
            self.stop(exc)
            return
        self.stats.rows_done += 1

    def fail(self, index: int, kind: str, message: str, raw: str | None = None) -> None:
        self.stats.count_failure(kind)
        self.stats.rows_done += 1
        self.records.failure(index, kind, message, raw)
        if self.on_failure == "raise":
            self.stop(CurationError(f"row {index} failed ({kind}): {message} (on_failure='raise')"))
