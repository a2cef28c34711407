"""LiveCodeBench rows: decode the hidden tests and normalise the two layouts Evalchemy reads.

The raw hub layout (``livecodebench/code_generation_lite``) stores ``private_test_cases`` as
base64(zlib(pickle(json string))). A pickle from the network can run code when loaded, so it is read
with an unpickler that refuses every global: a pickled *string* needs none, anything else is rejected.
The processed layout (``prompt``, ``test``, ``entry_point``, ``is_stdin``) is what Evalchemy's loader
produces from it and is accepted as is.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import re
import zlib
from typing import Any

from thoughtmill.eval.errors import DataError


class _StringsOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a test-case pickle")


def _loads_tests(text: str, *, where: str) -> list[dict[str, Any]]:
    try:
        tests = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: test cases are not JSON ({exc.msg})") from exc
    if not isinstance(tests, list) or not all(
        isinstance(t, dict) and "input" in t and "output" in t for t in tests
    ):
        raise DataError(f"{where}: expected a list of {{input, output, testtype}} test cases")
    return tests


def decode_tests(value: Any, *, where: str) -> list[dict[str, Any]]:
    """Test cases from a list, a JSON string, or LiveCodeBench's compressed-pickle encoding."""
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        raise DataError(f"{where}: test cases have type {type(value).__name__}, expected a string or list")
    stripped = value.strip()
    if not stripped:
        return []
    if stripped[0] == "[":
        return _loads_tests(stripped, where=where)
    try:
        raw = zlib.decompress(base64.b64decode(stripped))
        decoded = _StringsOnly(io.BytesIO(raw)).load()
    except (ValueError, zlib.error, pickle.UnpicklingError, EOFError) as exc:
        raise DataError(f"{where}: cannot decode private test cases ({exc})") from exc
    if not isinstance(decoded, str):
        raise DataError(f"{where}: decoded test cases are a {type(decoded).__name__}, expected a JSON string")
    return _loads_tests(decoded, where=where)


def encode_tests(tests: list[dict[str, Any]]) -> str:
    """LiveCodeBench's encoding (for writing fixtures in the hub layout)."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


_DEF = re.compile(r"def\s+(\w+)\s*\(")


def function_name(metadata: Any, starter_code: str) -> str | None:
    """The method a call-based problem is judged through: metadata's ``func_name``, else the last
    ``def`` of the starter code (the method of ``class Solution``)."""
    if isinstance(metadata, str) and metadata.strip():
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            metadata = {}
    if isinstance(metadata, dict) and metadata.get("func_name"):
        return str(metadata["func_name"])
    names = _DEF.findall(starter_code or "")
    return names[-1] if names else None


def normalise_lcb_row(row: dict[str, Any], *, where: str) -> dict[str, Any]:
    """One problem as ``{id, question_content, difficulty, is_stdin, tests, fn_name, starter_code}``."""
    if "question_content" in row:
        prompt = row["question_content"]
        tests = decode_tests(row.get("private_test_cases", ""), where=f"{where} private_test_cases")
        starter = row.get("starter_code") or ""
        public = decode_tests(row.get("public_test_cases", "[]"), where=f"{where} public_test_cases")
        problem_id = row.get("question_id")
        metadata = row.get("metadata")
    elif "prompt" in row and "test" in row:
        prompt = row["prompt"]
        tests = decode_tests(row["test"], where=f"{where} test")
        starter = row.get("entry_point") or ""
        public = decode_tests(row.get("public_test_cases", "[]"), where=f"{where} public_test_cases")
        problem_id = row.get("task_id")
        metadata = None
    else:
        raise DataError(
            f"{where}: not a LiveCodeBench row (expected question_content + private_test_cases, "
            f"or prompt + test; row has {', '.join(row)})"
        )
    if row.get("difficulty") is None:
        raise DataError(f"{where}: no difficulty column")
    is_stdin = row.get("is_stdin")
    if is_stdin is None:
        is_stdin = any(t.get("testtype") == "stdin" for t in public)
    return {
        "id": str(problem_id) if problem_id is not None else None,
        "question_content": str(prompt),
        "difficulty": str(row["difficulty"]),
        "is_stdin": bool(is_stdin),
        "starter_code": starter,
        "fn_name": None if is_stdin else function_name(metadata, starter),
        "tests": tests,
        "public_tests": public,
        "platform": row.get("platform"),
        "contest_date": str(row["contest_date"]) if row.get("contest_date") is not None else None,
    }
