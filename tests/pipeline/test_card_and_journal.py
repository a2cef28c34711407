"""The dataset card's per-stage counts, and the verification journal surviving a kill mid-write."""

from __future__ import annotations

from thoughtmill.curation.card import render_card, stage_table
from thoughtmill.curation.judges.base import Judgement
from thoughtmill.curation.pipeline.journal import Journal

SUMMARIES = {
    "sources": {"counts": {"math": {"numina_math": 10}, "code": {"taco": 4, "apps": 2}},
                "per_source": {"taco": {"read": 9, "dropped": {"short_problem": 5}, "kept": 4}}},
    "dedup": {"counts": {"math": {"numina_math": 9}, "code": {"taco": 4, "apps": 2}}},
    "decontaminate": {"counts": {"math": {"numina_math": 8}, "code": {"taco": 4, "apps": 2}}},
    "generate": {"counts": {"math": {"numina_math": 7}, "code": {"taco": 4, "apps": 2}},
                 "failed": {"math": {"numina_math": 1}}, "model": "deepseek-reasoner"},
    "verify": {"counts": {"math": {"numina_math": 5}, "code": {"taco": 1}},
               "verdicts": {"math": {"correct": 5, "incorrect": 2}}, "methods": {"math": {"math_verify": 7}}},
}  # fmt: skip


def test_stage_table_counts_every_stage_and_pass_rates():
    rows = {(r["domain"], r["source"]): r for r in stage_table(SUMMARIES)}
    math = rows[("math", "numina_math")]
    assert [math[k] for k in ("sourced", "deduplicated", "decontaminated", "generated", "failed", "verified")] == [
        10, 9, 8, 7, 1, 5]  # fmt: skip
    assert rows[("code", "apps")]["verified"] == 0 and rows[("code", "(all)")]["generated"] == 6
    assert abs(rows[("(all)", "(all)")]["pass_rate"] - 6 / 13) < 1e-9


def test_card_has_front_matter_counts_filters_and_verdicts():
    card = render_card("x", SUMMARIES, title="My set")
    assert card.startswith("---\nconfigs:") and "# My set" in card
    assert "| math | numina_math | 10 | 9 | 8 | 7 | 1 | 5 | 71.4% |" in card
    assert "short_problem: 5" in card and "correct: 5, incorrect: 2" in card and "deepseek-reasoner" in card


def test_journal_drops_a_half_written_line_and_keeps_the_rest(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.write("a", Judgement(True, "correct", "math_verify"))
    journal.write("b", Judgement(False, "judge_failed", "llm_judge", retry=True))
    journal.close()
    with open(path, "a") as f:
        f.write('{"key": "c", "verified": tr')  # killed mid-write
    journal = Journal(path)
    assert journal.final_keys() == {"a"}  # b is judged again, c was never finished
    journal.write("b", Judgement(True, "correct", "llm_judge"))
    journal.close()
    table = journal.table().to_pylist()
    assert {r["key"]: r["verdict"] for r in table} == {"a": "correct", "b": "correct"}
