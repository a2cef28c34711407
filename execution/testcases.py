"""Test-case formats, normalised to one `TestSpec`.

Accepted (as a dict or its JSON string):

* APPS / TACO / CodeContests / Codeforces: ``{"inputs": [...], "outputs": [...], "fn_name"?: str}``.
  Without ``fn_name`` each input is a stdin text (a list of lines is joined with newlines). With it the
  tests are call-based: each input is the list of positional arguments and each output the return
  value, which these datasets usually wrap in a one-element list (``unwrap`` is set, see compare.py).
* LiveCodeBench: a list of ``{"input": str, "output": str, "testtype": "stdin" | "functional"}``,
  bare or as ``{"tests": [...], "fn_name"|"func_name"?: str}``. Functional inputs hold one JSON value
  per line (the arguments), outputs one JSON value (never wrapped).
* A bare list of ``{"input", "output"}`` dicts without ``testtype`` is stdin (Codeforces style).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from thoughtmill.execution import jsonutil
from thoughtmill.execution.errors import TestCaseError

STDIN = "stdin"
CALL = "call"


@dataclasses.dataclass
class TestSpec:
    """Normalised tests of one solution. ``inputs[i]`` is a str (stdin) or a list of arguments (call)."""

    __test__ = False  # not a pytest class

    kind: str
    inputs: list[Any]
    outputs: list[Any]
    fn_name: str | None = None
    unwrap: bool = False  # expected call results may be wrapped in a one-element list (APPS/TACO)

    def __len__(self) -> int:
        return len(self.inputs)


def _as_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return "\n".join(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TestCaseError(f"{where}: expected a string (or a list of lines), got {type(value).__name__}")


def _fn_name(data: dict[str, Any]) -> str | None:
    name = data.get("fn_name") or data.get("func_name")
    meta = data.get("metadata")
    if not name and isinstance(meta, str) and meta.strip():
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = None
    if not name and isinstance(meta, dict):
        name = meta.get("func_name") or meta.get("fn_name")
    if name is None or name == "":
        return None
    if not isinstance(name, str) or not name.isidentifier():
        raise TestCaseError(f"fn_name: expected a Python identifier, got {name!r}")
    return name


def _parse_apps(data: dict[str, Any]) -> TestSpec:
    inputs, outputs = data.get("inputs"), data.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise TestCaseError("test_cases: 'inputs' and 'outputs' must both be lists")
    if len(inputs) != len(outputs):
        raise TestCaseError(f"test_cases: {len(inputs)} inputs but {len(outputs)} outputs")
    fn = _fn_name(data)
    if fn is None:
        return TestSpec(
            STDIN,
            [_as_text(x, f"inputs[{i}]") for i, x in enumerate(inputs)],
            [_as_text(x, f"outputs[{i}]") for i, x in enumerate(outputs)],
        )
    args = [x if isinstance(x, list) else [x] for x in inputs]
    return TestSpec(CALL, args, list(outputs), fn_name=fn, unwrap=True)


def _parse_lcb(tests: list[Any], fn: str | None) -> TestSpec:
    kinds = set()
    for i, t in enumerate(tests):
        if not isinstance(t, dict) or "input" not in t or "output" not in t:
            raise TestCaseError(f"tests[{i}]: expected a dict with 'input' and 'output'")
        kinds.add(t.get("testtype") or ("functional" if fn else "stdin"))
    if len(kinds) > 1:
        raise TestCaseError(f"tests: mixed testtype values {sorted(kinds)}")
    kind = kinds.pop() if kinds else "stdin"
    if kind == "stdin":
        return TestSpec(
            STDIN,
            [_as_text(t["input"], f"tests[{i}].input") for i, t in enumerate(tests)],
            [_as_text(t["output"], f"tests[{i}].output") for i, t in enumerate(tests)],
        )
    if kind != "functional":
        raise TestCaseError(f"tests: unknown testtype {kind!r} (expected 'stdin' or 'functional')")
    if fn is None:
        raise TestCaseError("functional tests need 'fn_name' (or 'func_name' / metadata.func_name)")
    inputs, outputs = [], []
    for i, t in enumerate(tests):
        raw_in, raw_out = t["input"], t["output"]
        try:
            if isinstance(raw_in, str):
                args = [jsonutil.loads(line) for line in raw_in.split("\n") if line.strip()]
            else:
                args = list(raw_in) if isinstance(raw_in, list) else [raw_in]
            out = jsonutil.loads(raw_out) if isinstance(raw_out, str) else raw_out
        except ValueError as exc:
            raise TestCaseError(f"tests[{i}]: functional input/output is not JSON ({exc})") from exc
        inputs.append(args)
        outputs.append(out)
    return TestSpec(CALL, inputs, outputs, fn_name=fn, unwrap=False)


def parse_test_cases(test_cases: Any) -> TestSpec:
    """Normalise any accepted format (dict, list or JSON string) to a `TestSpec`."""
    if isinstance(test_cases, TestSpec):
        return test_cases
    if isinstance(test_cases, (str, bytes)):
        try:
            test_cases = jsonutil.loads(test_cases)
        except ValueError as exc:
            raise TestCaseError(f"test_cases: not valid JSON ({exc})") from exc
    if isinstance(test_cases, list):
        spec = _parse_lcb(test_cases, None)
    elif isinstance(test_cases, dict):
        if "tests" in test_cases:
            if not isinstance(test_cases["tests"], list):
                raise TestCaseError("test_cases: 'tests' must be a list")
            spec = _parse_lcb(test_cases["tests"], _fn_name(test_cases))
        elif "inputs" in test_cases or "outputs" in test_cases:
            spec = _parse_apps(test_cases)
        else:
            raise TestCaseError(
                f"test_cases: expected keys 'inputs'/'outputs' or 'tests', got {sorted(test_cases)[:8]}"
            )
    else:
        raise TestCaseError(
            f"test_cases: expected a dict, list or JSON string, got {type(test_cases).__name__}"
        )
    if len(spec) == 0:
        raise TestCaseError("test_cases: no tests (a solution cannot be verified against nothing)")
    return spec
