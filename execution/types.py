"""Public value types of the execution backend: `Status`, `Verdict`, `Limits`."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from thoughtmill.execution.errors import ExecutionError


class Status(str, enum.Enum):
    """Outcome of running one solution against its tests. Only ``accepted`` is a pass."""

    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    RUNTIME_ERROR = "runtime_error"
    COMPILE_ERROR = "compile_error"
    SANDBOX_ERROR = "sandbox_error"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits for one solution. All enforced from outside the program.

    ``time_s`` is the wall-clock limit of one test; ``total_time_s`` bounds the whole solution (all
    tests, start-up included). ``memory_mb`` is the address-space limit of each test process and (with
    a memory cgroup) the limit of the sandbox as a whole. ``output_bytes`` caps stdout and stderr of
    one test. ``fail_fast`` stops at the first failing test (``passed`` then counts the tests passed
    before it).
    """

    time_s: float = 6.0
    total_time_s: float = 120.0
    memory_mb: int = 1024
    output_bytes: int = 16 * 1024 * 1024
    max_processes: int = 64
    file_size_mb: int = 64
    open_files: int = 256
    tmpfs_mb: int = 64
    fail_fast: bool = True

    def __post_init__(self) -> None:
        for name in ("time_s", "total_time_s"):
            if not getattr(self, name) > 0:
                raise ExecutionError(f"Limits.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("memory_mb", "output_bytes", "max_processes", "file_size_mb", "open_files", "tmpfs_mb"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ExecutionError(f"Limits.{name} must be a positive int, got {value!r}")
        if self.memory_mb < 64:
            raise ExecutionError(
                f"Limits.memory_mb must be >= 64 (the interpreter needs it), got {self.memory_mb}"
            )
        if self.open_files < 16:
            raise ExecutionError(f"Limits.open_files must be >= 16, got {self.open_files}")
        if self.max_processes < 4:
            raise ExecutionError(f"Limits.max_processes must be >= 4, got {self.max_processes}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ExecutionError(
                f"unknown Limits field(s) {sorted(unknown)}; expected some of {sorted(known)}"
            )
        return cls(**data)


@dataclasses.dataclass
class Verdict:
    """The judgement of one solution.

    ``passed``/``total`` count tests; ``first_failure`` is the 0-based index of the first failing test
    (None when accepted, or when the solution failed before any test ran, e.g. compile errors).
    ``infrastructure_failure`` marks a `sandbox_error` caused by the machinery, not by the program (a
    judge worker killed, a sandbox that could not start in time, the pool's deadline): it says nothing
    about the solution, so it must not be recorded as its verdict; judge it again later.
    """

    status: Status
    passed: int = 0
    total: int = 0
    first_failure: int | None = None
    stderr: str = ""
    wall_time_s: float = 0.0
    detail: str = ""
    infrastructure_failure: bool = False

    def __post_init__(self) -> None:
        self.status = Status(self.status)
        if self.infrastructure_failure and self.status is not Status.SANDBOX_ERROR:
            raise ExecutionError(f"an infrastructure failure is a sandbox_error, not {self.status.value}")

    @property
    def accepted(self) -> bool:
        return self.status is Status.ACCEPTED and self.passed == self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "passed": self.passed,
            "total": self.total,
            "first_failure": self.first_failure,
            "stderr": self.stderr,
            "wall_time_s": self.wall_time_s,
            "detail": self.detail,
            "infrastructure_failure": self.infrastructure_failure,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        try:
            return cls(
                status=Status(data["status"]),
                passed=int(data.get("passed", 0)),
                total=int(data.get("total", 0)),
                first_failure=data.get("first_failure"),
                stderr=str(data.get("stderr", "")),
                wall_time_s=float(data.get("wall_time_s", 0.0)),
                detail=str(data.get("detail", "")),
                infrastructure_failure=bool(data.get("infrastructure_failure", False)),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ExecutionError(f"not a Verdict dict ({exc}): {data!r:.200}") from exc
