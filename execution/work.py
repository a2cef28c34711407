"""The unit of work of every backend: numbered items, judged one after another by a worker or actor.

Items ``(id, code, test_cases)`` are numbered in the caller (ids never leave the parent process) and
judged as ``(index, code, test_cases)``. A backend gives back one `ChunkOutcome` per chunk: the verdicts
it got, and the items left unjudged when its worker failed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from thoughtmill.execution import sandbox as sb
from thoughtmill.execution.errors import ExecutionError
from thoughtmill.execution.judge import judge
from thoughtmill.execution.testcases import parse_test_cases
from thoughtmill.execution.types import Limits, Status, Verdict

Item = tuple[Hashable, str, Any]
WorkItem = tuple[int, str, Any]


def number_items(items: Iterable[Item], ids: dict[int, Hashable]) -> Iterator[WorkItem]:
    """``(index, code, test_cases)`` for each item, recording ``ids[index] = id`` (lazily)."""
    for n, item in enumerate(items):
        try:
            item_id, code, tc = item
        except (TypeError, ValueError) as exc:
            raise ExecutionError(
                f"items[{n}]: expected (id, code, test_cases), got {type(item).__name__}"
            ) from exc
        ids[n] = item_id
        yield n, code, tc


def judge_one(
    code: str, test_cases: Any, limits: Limits, mode: str, config: sb.Config | None = None
) -> Verdict:
    """Like run_tests, but a malformed item becomes a (non-passing) verdict instead of an exception."""
    try:
        spec = parse_test_cases(test_cases)
    except ExecutionError as exc:
        return Verdict(Status.SANDBOX_ERROR, detail=f"bad test cases: {exc}")
    try:
        return judge(code, spec, limits, mode, config)
    except sb.SandboxUnavailable:
        raise
    except Exception as exc:  # never lose a batch to one item; never call it a pass either
        return Verdict(
            Status.SANDBOX_ERROR,
            total=len(spec),
            detail=f"judge failure: {type(exc).__name__}: {exc}",
            infrastructure_failure=True,
        )


def judge_items(
    chunk: list[WorkItem], limits: dict[str, Any], mode: str, config: sb.Config | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Judge a chunk in order, one ``(index, verdict dict)`` as each solution is done."""
    lim = Limits.from_dict(limits)
    for idx, code, tc in chunk:
        yield idx, judge_one(code, tc, lim, mode, config).to_dict()


@dataclasses.dataclass
class ChunkOutcome:
    """What a backend got back for one chunk.

    ``unfinished`` are the items it could not judge (its worker died or missed its deadline, for
    ``failure``); the first ``in_flight`` of them may have been running at that moment.
    """

    verdicts: list[tuple[int, Verdict]]
    unfinished: list[WorkItem] = dataclasses.field(default_factory=list)
    in_flight: int = 0
    failure: str = ""
