"""Export round trip: verified rows in, LLaMA-Factory sharegpt rows out, tags and system right."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from thoughtmill.curation import prompts
from thoughtmill.training.errors import ExportError
from thoughtmill.training.export import ExportOptions, export, iter_row_batches


def read_records(folder: Path) -> list[dict]:
    rows = []
    for file in sorted(folder.iterdir()):
        if file.suffix == ".jsonl":
            rows += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
        else:
            rows += pq.read_table(file).to_pylist()
    return rows


def test_round_trip_keeps_verified_rows_only(verified_dir, fixture_rows, tmp_path):
    summary = export(verified_dir, tmp_path, ExportOptions(shard_rows=10))
    verified = {r["id"]: r for r in fixture_rows if r["verified"]}
    records = read_records(tmp_path / "thoughtmill_verified")

    assert summary["rows_in"] == len(fixture_rows) == 28
    assert summary["rows_written"] == len(records) == len(verified) == 24
    assert summary["rows_unverified_skipped"] == 4
    assert {r["id"] for r in records} == set(verified)
    assert [s["rows"] for s in summary["shards"]] == [10, 10, 4]
    for rec in records:
        row = verified[rec["id"]]
        assert rec["system"] == prompts.REASONING_SYSTEM_PROMPT and "<|begin_of_thought|>" in rec["system"]
        user, assistant = rec["conversations"]
        assert user == {"from": "user", "value": prompts.user_prompt(row)}
        assert user["value"].rstrip("\n").endswith(row["problem"])
        assert assistant["from"] == "assistant"
        text = assistant["value"]
        assert text.startswith(prompts.BEGIN_OF_THOUGHT) and text.endswith(prompts.END_OF_SOLUTION)
        positions = [text.index(m) for m in (prompts.END_OF_THOUGHT, prompts.BEGIN_OF_SOLUTION)]
        assert positions == sorted(positions)
        assert row["deepseek_reasoning"].strip() in text and row["deepseek_solution"].strip() in text


def test_markers_layout_matches_the_curation_format(verified_dir, fixture_rows, tmp_path):
    """An exported record is exactly curation's training_conversation(row): one module holds the format."""
    export(verified_dir, tmp_path)
    records = {r["id"]: r for r in read_records(tmp_path / "thoughtmill_verified")}
    math_rows = 0
    for row in fixture_rows:
        if row["verified"]:
            expected = prompts.training_conversation(row)
            assert {k: records[row["id"]][k] for k in ("system", "conversations")} == expected
            math_rows += row["domain"] == "math"
    assert math_rows and all(
        r["conversations"][0]["value"].startswith(prompts.MATH_PROMPT_PREFIX)
        for r in records.values()
        if "boxed" in r["conversations"][1]["value"]
    )


def test_dataset_info_maps_columns_and_tags(verified_dir, tmp_path):
    (tmp_path / "dataset_info.json").write_text(json.dumps({"other": {"file_name": "x.json"}}))
    export(verified_dir, tmp_path, ExportOptions(name="mine"))
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["other"] == {"file_name": "x.json"}, "other datasets must stay registered"
    assert info["mine"] == {
        "file_name": "mine",
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }


def test_think_layout_no_system_and_unverified(verified_dir, tmp_path):
    opts = ExportOptions(layout="think", system="none", include_unverified=True)
    summary = export(verified_dir, tmp_path, opts)
    records = read_records(tmp_path / opts.name)
    assert summary["rows_written"] == len(records) == 28
    for rec in records:
        assert rec["system"] == ""
        value = rec["conversations"][1]["value"]
        assert value.startswith("<think>\n") and "\n</think>\n\n" in value
        assert "<|begin_of_thought|>" not in value


def test_parquet_in_and_out_with_custom_system(fixture_rows, tmp_path):
    import pyarrow as pa

    src = tmp_path / "in" / "part-0.parquet"
    src.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(fixture_rows), src)
    summary = export(
        src.parent,
        tmp_path / "out",
        ExportOptions(format="parquet", system="Think, then answer.", batch_size=7),
    )
    records = read_records(tmp_path / "out" / "thoughtmill_verified")
    assert summary["rows_written"] == len(records) == 24
    assert all(r["system"] == "Think, then answer." for r in records)
    assert {tuple(t["from"] for t in r["conversations"]) for r in records} == {("user", "assistant")}


def test_reexport_replaces_old_shards(verified_dir, tmp_path):
    export(verified_dir, tmp_path, ExportOptions(shard_rows=5))
    export(verified_dir, tmp_path, ExportOptions(shard_rows=100))
    files = sorted(p.name for p in (tmp_path / "thoughtmill_verified").iterdir())
    assert files == ["train-00000.jsonl"], "stale shards would be loaded by LLaMA-Factory"
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_summary_histogram_counts_every_verified_row(verified_dir, tmp_path):
    summary = export(verified_dir, tmp_path)
    saved = json.loads((tmp_path / "thoughtmill_verified.summary.json").read_text())
    assert saved["rows_written"] == summary["rows_written"]
    length = saved["length"]
    assert length["unit"] == "chars" and length["count"] == 24
    assert sum(b["count"] for b in length["histogram"]) == 24
    assert length["min"] <= length["p50"] <= length["p90"] <= length["max"]
    assert saved["by_domain"] == {"code": 9, "math": 15}


def test_batches_are_bounded(verified_dir):
    sizes = [len(b) for b in iter_row_batches(verified_dir, batch_size=5)]
    assert sum(sizes) == 28 and max(sizes) == 5


def test_errors_name_the_row_and_field(fixture_rows, tmp_path):
    import datasets

    rows = [dict(r) for r in fixture_rows]
    rows[3]["deepseek_reasoning"] = "  "
    bad = tmp_path / "bad"
    datasets.Dataset.from_list(rows).save_to_disk(str(bad))
    with pytest.raises(ExportError, match=rf"row {rows[3]['id']}: field 'deepseek_reasoning'"):
        export(bad, tmp_path / "out")
    assert not (tmp_path / "out" / "thoughtmill_verified").exists(), (
        "a failed export must leave nothing behind"
    )

    no_verified = tmp_path / "nov"
    datasets.Dataset.from_list(
        [{k: v for k, v in r.items() if k != "verified"} for r in fixture_rows]
    ).save_to_disk(str(no_verified))
    with pytest.raises(ExportError, match=r"missing column\(s\) \['verified'\]"):
        export(no_verified, tmp_path / "out")
    with pytest.raises(ExportError, match="max_tokens needs a tokenizer"):
        export(no_verified, tmp_path / "out", ExportOptions(max_tokens=100))
    with pytest.raises(ExportError, match=r"no \.parquet file"):
        export(tmp_path / "nothing-here", tmp_path / "out")


def test_never_deletes_a_foreign_folder(verified_dir, tmp_path):
    (tmp_path / "thoughtmill_verified").mkdir()
    (tmp_path / "thoughtmill_verified" / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="holds files the export did not write"):
        export(verified_dir, tmp_path)
    assert (tmp_path / "thoughtmill_verified" / "notes.txt").read_text() == "mine"


STDLIB_ONLY_FORMAT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from thoughtmill.training.formatting import Formatter
row = {"id": "m1", "domain": "math", "problem": "2+2?", "deepseek_reasoning": "R", "deepseek_solution": "S"}
record = Formatter.create().record(row)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "aiohttp", "datasets", "diskcache"))
print(json.dumps({"record": record, "heavy": heavy}))
"""


def test_training_format_imports_with_the_standard_library_only():
    """The train environment has none of the engine's dependencies: without site-packages at all (-S),
    the export's formatter still builds the same record as curation (the math prefix included)."""
    import subprocess
    import sys

    from thoughtmill import import_root

    proc = subprocess.run(
        [sys.executable, "-S", "-I", "-c", STDLIB_ONLY_FORMAT, str(import_root())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["heavy"] == []
    row = {
        "id": "m1",
        "domain": "math",
        "problem": "2+2?",
        "deepseek_reasoning": "R",
        "deepseek_solution": "S",
    }
    assert {k: out["record"][k] for k in ("system", "conversations")} == prompts.training_conversation(row)
