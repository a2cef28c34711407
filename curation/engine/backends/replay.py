"""Serve recorded responses from a JSONL or Parquet file instead of calling a teacher.

Lets a user re-verify an existing trace dataset (OpenThoughts' "metadata" config, say: key
``problem``, content ``deepseek_solution``, reasoning ``deepseek_reasoning``) without regenerating,
and drives the offline demo. Only a hash of each key and its row number are held in memory; the
recorded texts stay in the memory-mapped Arrow table.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq
from thoughtmill.curation.engine.backends.base import Backend
from thoughtmill.curation.engine.config import TeacherConfig
from thoughtmill.curation.engine.errors import RequestFailed
from thoughtmill.curation.engine.request import Request, Response, Usage
from thoughtmill.curation.errors import ConfigError


def _key_hash(text: str) -> bytes:
    return hashlib.blake2b(text.strip().encode(), digest_size=16).digest()


class ReplayBackend(Backend):
    """Answer each request with the recorded row whose key matches it."""

    def __init__(self, config: TeacherConfig) -> None:
        super().__init__(config)
        assert config.replay is not None  # guaranteed by TeacherConfig validation
        self.spec = config.replay
        self.table = _read_table(Path(self.spec.path))
        self.reasoning_column = self.spec.reasoning_column
        if (
            self.reasoning_column not in self.table.column_names
            and "reasoning_column" not in self.spec.model_fields_set
        ):
            self.reasoning_column = None  # the default column is optional; one named explicitly is not
        for column in [
            self.spec.key_column,
            self.spec.content_column,
            self.reasoning_column,
            self.spec.finish_reason_column,
        ]:
            if column and column not in self.table.column_names:
                raise ConfigError(
                    f"replay file {self.spec.path}: column '{column}' not found "
                    f"(columns: {', '.join(self.table.column_names)})"
                )
        self.index: dict[bytes, int] = {}
        keys = self.table.column(self.spec.key_column)
        for row, key in enumerate(keys.to_pylist()):
            if key is None:
                raise ConfigError(f"replay file {self.spec.path}: row {row} has no '{self.spec.key_column}'")
            self.index.setdefault(_key_hash(str(key)), row)

    async def complete(self, request: Request) -> Response:
        key = request.replay_key if request.replay_key is not None else request.last_user_text()
        row = self.index.get(_key_hash(key))
        if row is None:
            raise RequestFailed(f"no recorded response in {self.spec.path} for key {key[:80]!r}")
        record = self.table.slice(row, 1).to_pylist()[0]
        content = record.get(self.spec.content_column) or ""
        reasoning = record.get(self.reasoning_column) if self.reasoning_column else None
        finish = record.get(self.spec.finish_reason_column) if self.spec.finish_reason_column else "stop"
        return Response(
            content=content,
            reasoning_content=reasoning,
            finish_reason=finish,
            usage=Usage(prompt_tokens=0, completion_tokens=0),
            model=request.model,
        )


def _read_table(path: Path) -> pa.Table:
    if not path.exists():
        raise ConfigError(f"replay file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pq.read_table(path, memory_map=True)
    if suffix in (".jsonl", ".json"):
        return pajson.read_json(path)
    raise ConfigError(f"replay file {path}: expected .jsonl or .parquet, got '{suffix}'")
