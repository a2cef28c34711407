"""Real APPS rows: every reference solution passes, and a wrong variant of each fails.

The rows are read at run time from ``../shared/realdata/apps.jsonl`` next to the repository (real
APPS rows in the raw Hub format: ``solutions`` and ``input_output`` as JSON strings); they are never
copied into the repository. Some reference solutions end the program with a top-level ``return``,
which only works because the APPS/TACO harness runs stdin programs inside a function: the runner
does the same for exactly those programs (docs/execution.md, "Test-case formats").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from thoughtmill.execution import Limits, run_batch

from .conftest import batch_workers

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata" / "apps.jsonl"
LIMITS = Limits(time_s=6.0, total_time_s=120.0)
MARK = "wrong-variant-output"

pytestmark = pytest.mark.skipif(
    not REALDATA.is_file(), reason=f"real APPS rows not found at {REALDATA} (shared data, not in the repo)"
)


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in REALDATA.read_text().splitlines() if line.strip()]


def wrong_variant(code: str, fn_name: str | None) -> str:
    """The same solution made wrong: an extra first output line, or a wrapped return value."""
    if fn_name is None:
        return f"print({MARK!r})\n" + code
    if re.search(r"^class Solution\b", code, re.M):
        return code + (
            f"\n\nclass Solution(Solution):\n    def {fn_name}(self, *args):\n"
            f"        return [{MARK!r}, super().{fn_name}(*args)]\n"
        )
    return code + (
        f"\n\n_reference_{fn_name} = {fn_name}\n\ndef {fn_name}(*args):\n"
        f"    return [{MARK!r}, _reference_{fn_name}(*args)]\n"
    )


@pytest.fixture(scope="module")
def judged() -> dict[tuple[int, int, str, str], Any]:
    items = []
    for row in _rows():
        tests = json.loads(row["input_output"])
        for n, code in enumerate(json.loads(row["solutions"])):
            for mode in ("strict", "lenient"):
                items.append(((row["problem_id"], n, mode, "reference"), code, tests))
                items.append(
                    ((row["problem_id"], n, mode, "wrong"), wrong_variant(code, tests.get("fn_name")), tests)
                )
    out = {}
    for mode in ("strict", "lenient"):
        batch = [(key, code, tests) for key, code, tests in items if key[2] == mode]
        out.update(run_batch(batch, LIMITS, workers=batch_workers(), mode=mode, chunk_size=4))
    assert len(out) == len(items)
    return out


@pytest.mark.slow
def test_the_shared_file_holds_real_apps_rows():
    rows = _rows()
    assert sum(len(json.loads(r["solutions"])) for r in rows) >= 100
    assert all({"problem_id", "solutions", "input_output"} <= set(r) for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_every_reference_solution_passes(judged, mode):
    failed = {
        k[:2]: f"{v.status}: {v.detail[:120]}"
        for k, v in judged.items()
        if k[2:] == (mode, "reference") and not v.accepted
    }
    assert failed == {}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_every_wrong_variant_fails(judged, mode):
    passed = [k[:2] for k, v in judged.items() if k[2:] == (mode, "wrong") and v.accepted]
    assert passed == []
