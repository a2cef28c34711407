"""Code judge: extract the answer's final code block, run it in the sandbox against the row's tests.

Only ``accepted`` verifies a row. An answer without a code block or a row whose ``test_cases`` cannot be
parsed is a recorded verdict naming the row, not a crash: the rest of the set is still judged.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterator
from typing import Any

from pydantic import Field, field_validator
from thoughtmill.curation.engine.config import StrictModel
from thoughtmill.curation.judges.base import Judge, Judgement, JudgeResources, Rows, short
from thoughtmill.curation.judges.registry import Domain, register_domain
from thoughtmill.execution.compare import MODES as COMPARISON_MODES

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_TAGS = {"python", "python3", "py", ""}


def extract_code(text: str | None) -> str | None:
    """The last fenced code block in Python (or untagged); None when the answer has none."""
    blocks = _FENCE.findall(text or "")
    python = [body for tag, body in blocks if tag.lower() in _PYTHON_TAGS]
    chosen = python or [body for _, body in blocks]
    if not chosen or not chosen[-1].strip():
        return None
    return chosen[-1]


def check_tests(test_cases: Any) -> str:
    """Why ``test_cases`` cannot be run ("" when they can), using the execution backend's own parser."""
    from thoughtmill.execution.testcases import parse_test_cases

    if not test_cases:
        return "the row has no test_cases"
    try:
        spec = parse_test_cases(test_cases)
    except Exception as exc:  # the backend's TestCaseError names the field at fault
        return f"malformed test_cases: {exc}"
    return "" if len(spec) else "test_cases holds no tests"


class CodeJudgeConfig(StrictModel):
    time_s: float = Field(6.0, gt=0, description="wall-clock limit of one test")
    total_time_s: float = Field(60.0, gt=0, description="limit for all tests of one solution")
    memory_mb: int = Field(1024, ge=64)
    workers: int | None = Field(None, ge=1, description="concurrent sandboxes; None = the backend's default")
    mode: str = Field("strict", description="output comparison mode of the execution backend")
    unsafe_weak_isolation: bool = Field(
        False,
        description="run untrusted code even where the sandbox cannot isolate it (no bubblewrap, no user "
        "namespaces): the solutions can then read the judge's environment and write on the host",
    )

    @field_validator("mode")
    @classmethod
    def _known_comparison(cls, value: str) -> str:
        if value not in COMPARISON_MODES:
            raise ValueError(f"unknown comparison mode {value!r}; known modes: {', '.join(COMPARISON_MODES)}")
        return value


class CodeJudge(Judge):
    """Runs solutions through ``execution.run_batch`` (concurrent sandboxes, results in any order)."""

    domain = "code"

    def __init__(self, config: CodeJudgeConfig, cpus: float | None = None) -> None:
        self.config = config
        #: sandboxes at once: the config's ``workers``, else one per CPU this judge was given (a Ray
        #: shard's share), else the backend's default (one per core of the machine)
        self.workers = config.workers or (max(1, int(cpus)) if cpus else None)

    @classmethod
    def build(cls, config: CodeJudgeConfig, resources: JudgeResources) -> CodeJudge:
        return cls(config, cpus=resources.cpus)

    @classmethod
    def preflight(cls, config: CodeJudgeConfig) -> None:
        """Refuse at the start of a run, not after generation is paid for, where untrusted code could
        not be isolated and the user did not opt in with ``unsafe_weak_isolation``."""
        from thoughtmill.execution import require_isolation

        require_isolation(config.unsafe_weak_isolation)

    def judge(self, rows: Rows) -> Iterator[tuple[str, Judgement]]:
        from thoughtmill.execution import Limits, run_batch

        limits = Limits(
            time_s=self.config.time_s, total_time_s=self.config.total_time_s, memory_mb=self.config.memory_mb
        )
        immediate: collections.deque[tuple[str, Judgement]] = collections.deque()

        def runnable() -> Iterator[tuple[str, str, str]]:
            for row in rows:
                key = row["_key"]
                code = extract_code(row.get("deepseek_solution"))
                if code is None:
                    immediate.append((key, _no_code(row)))
                    continue
                problem = check_tests(row.get("test_cases"))
                if problem:
                    immediate.append(
                        (
                            key,
                            Judgement(
                                False, "bad_test_cases", "sandbox", {"row": row.get("id"), "error": problem}
                            ),
                        )
                    )
                    continue
                yield key, code, row["test_cases"]

        verdicts = run_batch(
            runnable(),
            limits,
            workers=self.workers,
            mode=self.config.mode,
            unsafe_weak_isolation=self.config.unsafe_weak_isolation,
        )
        for key, verdict in verdicts:
            while immediate:
                yield immediate.popleft()
            detail = verdict.to_dict()
            detail["stderr"] = short(detail.get("stderr"))
            detail["detail"] = short(detail.get("detail"))
            # the machinery failed (worker killed, sandbox start-up): not a verdict, judged again next run
            retry = verdict.infrastructure_failure
            yield key, Judgement(verdict.accepted, str(verdict.status), "sandbox", detail, retry=retry)
        while immediate:
            yield immediate.popleft()


def _no_code(row: dict[str, Any]) -> Judgement:
    return Judgement(
        False,
        "no_code_block",
        "extract",
        {
            "row": row.get("id"),
            "error": f"row {row.get('id')!r}: the teacher's answer holds no ``` code block",
        },
    )


register_domain(Domain("code", judge=CodeJudge, config=CodeJudgeConfig))
