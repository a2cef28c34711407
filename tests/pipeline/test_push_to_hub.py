"""``stages.write.push_to_hub``: what is pushed, and what a failed push leaves (the Hub is unreachable
here, so ``Dataset.push_to_hub`` is replaced by a recorder: it checks what the product hands it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import huggingface_hub
import pyarrow.parquet as pq
import pytest
from thoughtmill.curation.errors import CurationError
from thoughtmill.curation.pipeline.runner import run_pipeline, run_status
from thoughtmill.curation.schema import METADATA_COLUMNS

from tests.pipeline.conftest import demo_config, quiet

pytestmark = pytest.mark.slow

REPO = "someone/openthoughts-demo"


class HubRecorder:
    """Stands in for ``datasets.Dataset.push_to_hub``; fails while ``error`` is set."""

    def __init__(self) -> None:
        self.pushes: list[dict[str, Any]] = []
        self.cards: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def __call__(self, dataset: datasets.Dataset, repo_id: str, **kwargs: Any) -> None:
        if self.error is not None:
            raise self.error
        self.pushes.append({"repo": repo_id, **kwargs, "rows": dataset.to_list()})


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> HubRecorder:
    recorder = HubRecorder()
    monkeypatch.setattr(
        datasets.Dataset, "push_to_hub", lambda self, repo_id, **kw: recorder(self, repo_id, **kw)
    )

    def upload_file(api: Any, *, path_or_fileobj: str, **kw: Any) -> None:
        recorder.cards.append({**kw, "text": Path(path_or_fileobj).read_text()})

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_file", upload_file)
    return recorder


def test_the_verified_set_is_pushed_as_two_private_configs(tmp_path: Path, hub: HubRecorder) -> None:
    report = run_pipeline(demo_config(tmp_path, f"stages.write.push_to_hub={REPO}"), echo=quiet)
    assert report["write"]["status"] == "ran"
    assert [(p["repo"], p["config_name"], p["private"]) for p in hub.pushes] == [
        (REPO, "default", True),
        (REPO, "metadata", True),
        (REPO, "unverified", True),  # every row, verdicts included (issue 14)
    ]
    default, metadata, unverified = (p["rows"] for p in hub.pushes)
    assert len(unverified) == 36
    # the card goes up last as the repo's README (issue 14: it used to be written after the push)
    [card] = hub.cards
    assert card["repo_id"] == REPO and card["path_in_repo"] == "README.md" and card["repo_type"] == "dataset"
    assert card["text"] == (tmp_path / "run" / "output" / "README.md").read_text()
    assert "config_name: unverified" in card["text"]
    written = pq.read_table(tmp_path / "run" / "output" / "metadata").to_pylist()
    assert metadata == written and len(metadata) == 28, "the verified rows only, as written locally"
    assert set(METADATA_COLUMNS) <= set(metadata[0])
    assert len(default) == 28 and set(default[0]) == {"system", "conversations"}


def test_a_failed_push_keeps_the_written_set_and_a_rerun_only_pushes(
    tmp_path: Path, hub: HubRecorder
) -> None:
    config = demo_config(tmp_path, f"stages.write.push_to_hub={REPO}", "stages.write.private=false")
    hub.error = ConnectionError("Max retries exceeded with url: /api/repos/create")
    with pytest.raises(CurationError) as failed:
        run_pipeline(config, echo=quiet)
    message = str(failed.value)
    assert f"'default' layout to the Hub dataset {REPO!r} failed" in message
    assert "ConnectionError: Max retries exceeded" in message and "HF_TOKEN" in message
    out = tmp_path / "run" / "output"
    assert str(out) in message
    assert pq.read_table(out / "metadata").num_rows == 28, "the verified set is on disk all the same"
    states = {row["stage"]: row["state"] for row in run_status(tmp_path / "run")}
    assert states["verify"] == "done" and states["write"] != "done"

    hub.error = None
    report = run_pipeline(config, echo=quiet)
    assert {name: r["status"] for name, r in report.items() if r["status"] == "ran"} == {
        "write": "ran",
        "card": "ran",
    }, "generation and verification are not paid for twice"
    assert [(p["config_name"], p["private"]) for p in hub.pushes] == [
        ("default", False),
        ("metadata", False),
        ("unverified", False),
    ]
    assert len(hub.cards) == 1
