"""The verification journal: an append-only JSONL of judgements, keyed by verification key.

Every judgement is appended the moment it is made, so an interrupted verification resumes without
re-running a sandbox or re-asking a judge. The merge reads it back from sorted keys and record
offsets (``latest`` / ``records``), never as a Python dict or table of the whole set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from thoughtmill.curation.judges import Judgement

JOURNAL_SCHEMA = pa.schema(
    [("key", pa.string()), ("verified", pa.bool_()), ("verdict", pa.string()), ("method", pa.string()),
     ("detail", pa.string()), ("retry", pa.bool_())]
)  # fmt: skip


class Journal:
    """Append-only JSONL of judgements; a half-written last line (a kill) is cut off on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        self.handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def _repair(self) -> None:
        if not self.path.exists():
            return
        good = 0
        with open(self.path, "rb") as f:
            for line in f:
                try:
                    json.loads(line)
                except ValueError:
                    break
                if not line.endswith(b"\n"):
                    break
                good += len(line)
        with open(self.path, "r+b") as f:
            f.truncate(good)

    def final_keys(self) -> set[str]:
        """Keys with a final judgement (``retry`` ones are judged again)."""
        keys: set[str] = set()
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                (keys.discard if record["retry"] else keys.add)(record["key"])
        return keys

    def write(self, key: str, j: Judgement) -> None:
        record = {"key": key, "verified": j.verified, "verdict": j.verdict, "method": j.method,
                  "detail": j.detail_json(), "retry": j.retry}  # fmt: skip
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()

    def latest(self) -> tuple[np.ndarray, np.ndarray]:
        """Every key with a record, sorted, and the byte offset of its latest record.

        One pass over the file keeping only a key and an offset per record (no verdicts, no details):
        the merge reads each batch's records back from those offsets.
        """
        parts_keys: list[np.ndarray] = [np.zeros(0, "S1")]
        parts_offsets: list[np.ndarray] = [np.zeros(0, np.int64)]
        keys: list[bytes] = []
        offsets: list[int] = []
        position = 0
        with open(self.path, "rb") as f:
            for line in f:
                keys.append(_record_key(line))
                offsets.append(position)
                position += len(line)
                if len(keys) >= 65_536:
                    parts_keys.append(np.array(keys, dtype=bytes))
                    parts_offsets.append(np.array(offsets, dtype=np.int64))
                    keys, offsets = [], []
        parts_keys.append(np.array(keys, dtype=bytes) if keys else np.zeros(0, "S1"))
        parts_offsets.append(np.array(offsets, dtype=np.int64))
        all_keys = np.concatenate(parts_keys)
        all_offsets = np.concatenate(parts_offsets)
        del parts_keys, parts_offsets
        order = np.argsort(all_keys, kind="stable")  # equal keys stay in journal order
        all_keys = all_keys[order]
        ends = np.append(all_keys[1:] != all_keys[:-1], True) if len(all_keys) else np.zeros(0, bool)
        return all_keys[ends], all_offsets[order[ends]]  # the latest record of each key

    def records(self, offsets: np.ndarray) -> list[dict[str, Any]]:
        """The records starting at these byte offsets, in the given order."""
        unique, inverse = np.unique(offsets, return_inverse=True)  # read in file order
        with open(self.path, "rb") as f:
            read: list[dict[str, Any]] = []
            for offset in unique.tolist():
                f.seek(offset)
                read.append(json.loads(f.readline()))
        return [read[k] for k in inverse.tolist()]

    def table(self) -> pa.Table:
        """The latest judgement per key (for inspection: the merge never holds this whole table)."""
        _, offsets = self.latest()
        return pa.Table.from_pylist(self.records(offsets), schema=JOURNAL_SCHEMA)


def _record_key(line: bytes) -> bytes:
    """The ``key`` of one journal line (written first by ``Journal.write``), without parsing the rest."""
    prefix = b'{"key": "'
    if line.startswith(prefix):
        end = line.find(b'"', len(prefix))
        if end > 0 and b"\\" not in line[len(prefix) : end]:
            return line[len(prefix) : end]
    return str(json.loads(line)["key"]).encode()
