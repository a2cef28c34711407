"""A run killed after the provider created a batch but before its id reached the ledger: the next
run finds that batch (OpenAI: by its input file; Anthropic: created after the mark, same request
count, unknown to the ledger) and collects it instead of paying for it twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from thoughtmill.curation.errors import CurationError

from .conftest import anthropic_teacher, openai_teacher, problems, run_flow


def _forget_created(ledger: Path) -> None:
    """The ledger as a kill right after the create call was sent leaves it: no "created", no "collected"."""
    events = [json.loads(line) for line in ledger.read_text().splitlines()]
    kept = [e for e in events if e["event"] not in ("created", "collected")]
    ledger.write_text("".join(json.dumps(e) + "\n" for e in kept))


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_batch_created_without_its_id_recorded_is_adopted(
    provider, openai_server, anthropic_server, key, tmp_path
):
    server = openai_server if provider == "openai" else anthropic_server
    teacher = openai_teacher(server) if provider == "openai" else anthropic_teacher(server)
    first = tmp_path / "first"
    run_flow(teacher, problems(5), first)
    assert server.stats["batches_created"] == 1
    ledger = first / "runs/Solve/batches/ledger.jsonl"
    _forget_created(ledger)
    (first / "cache").rename(tmp_path / "old-cache")  # nothing cached: the answers must come from the batch
    outcome, _ = run_flow(teacher, problems(5), first)
    assert server.stats["batches_created"] == 1  # adopted, not created again
    assert outcome.answered == 5 and outcome.submitted_batches == 1
    assert [json.loads(line)["event"] for line in ledger.read_text().splitlines()][-2:] == [
        "created",
        "collected",
    ]


def test_a_torn_last_ledger_line_is_dropped(openai_server, key, tmp_path):
    teacher = openai_teacher(openai_server)
    run_flow(teacher, problems(3), tmp_path)
    ledger = tmp_path / "runs/Solve/batches/ledger.jsonl"
    with open(ledger, "ab") as f:
        f.write(b'{"event": "spooled", "spool": "000')
    outcome, _ = run_flow(teacher, problems(4), tmp_path)
    assert outcome.spooled == 1 and outcome.answered == 1
    assert all(json.loads(line) for line in ledger.read_text().splitlines())


def test_two_anthropic_batches_that_could_be_the_lost_one_stop_the_run(anthropic_server, key, tmp_path):
    teacher = anthropic_teacher(anthropic_server)
    run_flow(teacher, problems(4), tmp_path / "a")  # another run's batch of the same size, just now
    run_flow(teacher, problems(4), tmp_path / "b")
    ledger = tmp_path / "b/runs/Solve/batches/ledger.jsonl"
    _forget_created(ledger)
    (tmp_path / "b/cache").rename(tmp_path / "b-old-cache")
    with pytest.raises(CurationError, match="2 recent batches could be it"):
        run_flow(teacher, problems(4), tmp_path / "b")
    assert anthropic_server.stats["batches_created"] == 2  # nothing paid twice


def test_a_damaged_ledger_line_in_the_middle_is_an_error_naming_the_file_and_line(
    openai_server, key, tmp_path
):
    teacher = openai_teacher(openai_server)
    run_flow(teacher, problems(3), tmp_path)
    ledger = tmp_path / "runs/Solve/batches/ledger.jsonl"
    lines = ledger.read_text().splitlines()
    lines[1] = "garbage"
    ledger.write_text("\n".join(lines) + "\n")
    with pytest.raises(CurationError, match=r"ledger.jsonl, line 2: unreadable event"):
        run_flow(teacher, problems(3), tmp_path)


def _as_if_killed_after_upload(ledger: Path) -> None:
    """The ledger as a kill right after the upload was sent leaves it: the upload marked, nothing after."""
    events = [json.loads(line) for line in ledger.read_text().splitlines()]
    kept = [e for e in events if e["event"] in ("spooled", "uploading")]
    ledger.write_text("".join(json.dumps(e) + "\n" for e in kept))


def test_an_upload_whose_answer_was_lost_is_found_not_uploaded_again(openai_server, key, tmp_path):
    teacher = openai_teacher(openai_server)
    run_flow(teacher, problems(5), tmp_path)
    first_file = next(iter(openai_server.files))
    ledger = tmp_path / "runs/Solve/batches/ledger.jsonl"
    _as_if_killed_after_upload(ledger)
    (tmp_path / "cache").rename(tmp_path / "old-cache")
    outcome, _ = run_flow(teacher, problems(5), tmp_path)
    assert outcome.answered == 5
    assert openai_server.stats["uploads"] == 1  # the file already on the account is used: no orphan
    assert openai_server.stats["file_lists"] == 1
    newest = openai_server.batches[max(openai_server.batches)]
    assert newest["input_file_id"] == first_file


def test_an_upload_that_never_arrived_is_sent_again(openai_server, key, tmp_path):
    teacher = openai_teacher(openai_server)
    run_flow(teacher, problems(5), tmp_path)
    ledger = tmp_path / "runs/Solve/batches/ledger.jsonl"
    _as_if_killed_after_upload(ledger)
    (tmp_path / "cache").rename(tmp_path / "old-cache")
    openai_server.files.clear()  # the provider never got it
    outcome, _ = run_flow(teacher, problems(5), tmp_path)
    assert outcome.answered == 5 and openai_server.stats["uploads"] == 2


def test_upload_names_are_unique_to_their_upload(openai_server, key, tmp_path):
    teacher = openai_teacher(openai_server)
    run_flow(teacher, problems(3), tmp_path / "a")
    run_flow(teacher, problems(4), tmp_path / "b")
    names = [f["filename"] for f in openai_server.files.values() if f["purpose"] == "batch"]
    assert len(names) == len(set(names)) == 2
    assert all(n.startswith("spool-00001-") and n.endswith(".jsonl") for n in names)
