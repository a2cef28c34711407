"""The labelled suite: every (solution, tests, expected verdict) case in labelled.yaml must match."""

from __future__ import annotations

from typing import Any

import pytest
from thoughtmill.execution import Limits, Status, run_batch

from .conftest import batch_workers, load_cases

CASES = load_cases("labelled.yaml")
BASE_LIMITS = {"time_s": 4.0, "total_time_s": 60.0}


def _gen(name: str) -> Any:
    if name == "huge_int":
        return {"inputs": ["20000\n"], "outputs": ["1" + "0" * 20000 + "\n"]}
    if name == "huge_input":
        nums = [str((i * 7919) % 1000003) for i in range(1_000_000)]
        text = f"{len(nums)}\n" + " ".join(nums) + "\n"
        return {"inputs": [text], "outputs": [f"{sum(map(int, nums))}\n"]}
    if name == "huge_output":
        n = 200_000
        return {"inputs": [f"{n}\n"], "outputs": ["\n".join(str(i) for i in range(n)) + "\n"]}
    if name == "call_big_int":
        return {"fn_name": "power", "inputs": [[20000]], "outputs": [[10**20000]]}
    raise KeyError(name)


def _items(cases: list[dict[str, Any]]) -> dict[str, tuple[str, Any, Limits, str]]:
    out = {}
    for c in cases:
        tests = _gen(c["gen"]) if "gen" in c else c["tests"]
        limits = Limits(**{**BASE_LIMITS, **c.get("limits", {})})
        out[c["name"]] = (c["code"], tests, limits, c.get("mode", "strict"))
    return out


@pytest.fixture(scope="module")
def verdicts() -> dict[str, Any]:
    """All cases judged once, concurrently, grouped by (limits, mode) since a batch shares them."""
    items = _items(CASES)
    groups: dict[tuple, list[tuple[str, str, Any]]] = {}
    for name, (code, tests, limits, mode) in items.items():
        groups.setdefault((limits, mode), []).append((name, code, tests))
    result = {}
    for (limits, mode), group in groups.items():
        for name, verdict in run_batch(group, limits, workers=batch_workers(), mode=mode):
            result[name] = verdict
    assert set(result) == set(items)
    return result


def test_suite_is_big_enough():
    assert len(CASES) >= 60
    statuses = {c["expect"] for c in CASES}
    assert statuses >= {s.value for s in Status} - {"sandbox_error"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any], verdicts: dict[str, Any]):
    v = verdicts[case["name"]]
    assert v.status.value == case["expect"], f"{case['name']}: {v}"
    if "passed" in case:
        assert v.passed == case["passed"], v
    if "first_failure" in case:
        assert v.first_failure == case["first_failure"], v
    assert v.total >= 1
    if v.accepted:
        assert v.passed == v.total and v.first_failure is None
    else:
        assert v.passed < v.total


def test_no_failure_judged_a_pass(verdicts: dict[str, Any]):
    wrongly_passed = [c["name"] for c in CASES if c["expect"] != "accepted" and verdicts[c["name"]].accepted]
    assert wrongly_passed == []
