"""Serve recorded responses from a JSONL or Parquet file instead of calling a teacher.

Lets a user re-verify an existing trace dataset (OpenThoughts' "metadata" config, say: key
``problem``, content ``deepseek_solution``, reasoning ``deepseek_reasoning``) without regenerating,
drives the offline demo, and scores outputs recorded elsewhere in the evaluator (a script of
``{"match", "seed"?, "content"}`` rows, matched by substring and seed). In exact mode only a hash of
each key and its row numbers are held in memory; the recorded texts stay in the memory-mapped table.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq
from pydantic import Field, field_validator
from thoughtmill.curation.engine.backends.base import Backend, ProviderSettings
from thoughtmill.curation.engine.errors import RequestFailed
from thoughtmill.curation.engine.request import Request, Response, Usage
from thoughtmill.curation.engine.strict import StrictModel
from thoughtmill.curation.errors import ConfigError

if TYPE_CHECKING:
    from thoughtmill.curation.engine.config import TeacherConfig


class ReplayConfig(StrictModel):
    """Where recorded responses come from, and how a request finds its row."""

    path: str
    key_column: str = Field("prompt", description="column holding the text a request is matched on")
    content_column: str = "content"
    reasoning_column: str | None = "reasoning_content"
    finish_reason_column: str | None = None
    usage_column: str | None = Field(
        "usage",
        description="column holding the recorded usage ({prompt_tokens, completion_tokens, reasoning_tokens, "
        "cached_tokens}), so a replayed run costs what the recorded one did; rows without it report 0 tokens",
    )
    match: Literal["exact", "substring"] = Field(
        "exact",
        description="exact: the key equals the request's text; substring: the first row whose key occurs in it",
    )
    seed_column: str | None = Field(
        None, description="a row answers only requests sampled with its seed (an empty seed answers any)"
    )


class ReplaySettings(ProviderSettings):
    """The ``replay:`` section of a replay teacher."""

    replay: ReplayConfig | None = Field(None, validate_default=True)

    @field_validator("replay")
    @classmethod
    def _needs_section(cls, value: ReplayConfig | None) -> ReplayConfig:
        if value is None:
            raise ValueError("provider 'replay' needs a 'replay:' section with the recorded file's path")
        return value

    def endpoint_identity(self) -> str:
        # another recording, or the same file re-recorded, must not be served from old entries
        spec = cast(ReplayConfig, self.replay)
        path = Path(spec.path).resolve()
        stat = path.stat() if path.exists() else None
        version = f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "missing"
        matching = (
            "" if spec.match == "exact" and spec.seed_column is None else f":{spec.match}:{spec.seed_column}"
        )
        return f"{path}:{version}{matching}"

    def describe(self) -> dict[str, Any]:
        return {"path": cast(ReplayConfig, self.replay).path}


def _key_hash(text: str) -> bytes:
    return hashlib.blake2b(text.strip().encode(), digest_size=16).digest()


class ReplayBackend(Backend):
    """Answer each request with the recorded row whose key matches it."""

    def __init__(self, config: TeacherConfig) -> None:
        super().__init__(config)
        self.spec = cast(ReplayConfig, cast(ReplaySettings, config.settings).replay)
        self.table = _read_table(Path(self.spec.path))
        self.reasoning_column = self.spec.reasoning_column
        if (
            self.reasoning_column not in self.table.column_names
            and "reasoning_column" not in self.spec.model_fields_set
        ):
            self.reasoning_column = None  # the default column is optional; one named explicitly is not
        self.usage_column = self.spec.usage_column
        if (
            self.usage_column not in self.table.column_names
            and "usage_column" not in self.spec.model_fields_set
        ):
            self.usage_column = None  # optional too, unless named
        for column in [
            self.spec.key_column,
            self.spec.content_column,
            self.reasoning_column,
            self.spec.finish_reason_column,
            self.usage_column,
            self.spec.seed_column,
        ]:
            if column and column not in self.table.column_names:
                raise ConfigError(
                    f"replay file {self.spec.path}: column '{column}' not found "
                    f"(columns: {', '.join(self.table.column_names)})"
                )
        keys = self.table.column(self.spec.key_column).to_pylist()
        for row, key in enumerate(keys):
            if key is None:
                raise ConfigError(f"replay file {self.spec.path}: row {row} has no '{self.spec.key_column}'")
        self.seeds = self.table.column(self.spec.seed_column).to_pylist() if self.spec.seed_column else None
        # substring mode scans the keys in file order; exact mode looks a hash up
        self.keys: list[str] = [str(k) for k in keys] if self.spec.match == "substring" else []
        self.index: dict[bytes, list[int]] = {}
        if self.spec.match == "exact":
            for row, key in enumerate(keys):
                self.index.setdefault(_key_hash(str(key)), []).append(row)

    def _candidates(self, key: str) -> list[int]:
        if self.spec.match == "exact":
            return self.index.get(_key_hash(key), [])
        return [row for row, snippet in enumerate(self.keys) if snippet in key]

    def _find(self, key: str, seed: Any) -> int | None:
        for row in self._candidates(key):
            if self.seeds is None or self.seeds[row] is None or self.seeds[row] == seed:
                return row
        return None

    async def complete(self, request: Request) -> Response:
        key = request.replay_key if request.replay_key is not None else request.last_user_text()
        row = self._find(key, request.params.get("seed"))
        if row is None:
            raise RequestFailed(f"no recorded response in {self.spec.path} for key {key[:80]!r}")
        record = self.table.slice(row, 1).to_pylist()[0]
        content = record.get(self.spec.content_column) or ""
        reasoning = record.get(self.reasoning_column) if self.reasoning_column else None
        finish = record.get(self.spec.finish_reason_column) if self.spec.finish_reason_column else None
        return Response(
            content=content,
            reasoning_content=reasoning,
            finish_reason=finish or "stop",  # a row without one was a complete answer
            usage=Usage.from_dict(_mapping(record.get(self.usage_column)) if self.usage_column else None),
            model=request.model,
        )


def _mapping(value: Any) -> dict[str, Any] | None:
    """A recorded usage cell: a mapping, or None for anything else (no usage recorded)."""
    return value if isinstance(value, dict) else None


def _read_table(path: Path) -> pa.Table:
    if not path.exists():
        raise ConfigError(f"replay file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pq.read_table(path, memory_map=True)
    if suffix in (".jsonl", ".json"):
        return pajson.read_json(path)
    raise ConfigError(f"replay file {path}: expected .jsonl or .parquet, got '{suffix}'")
