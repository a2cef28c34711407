"""The real hand-off: tiny local Qwen2 model, exported fixture set, LLaMA-Factory training on CPU."""

from __future__ import annotations

import json
import math

import pytest
from thoughtmill.training import recipes
from thoughtmill.training.cli import app
from thoughtmill.training.export import export
from typer.testing import CliRunner

from .conftest import FIXTURE, last_json, run_train_python

RELOAD = """
import json, math, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
ckpt, base = sys.argv[1], sys.argv[2]
tok = AutoTokenizer.from_pretrained(ckpt)
model = AutoModelForCausalLM.from_pretrained(ckpt)
start = AutoModelForCausalLM.from_pretrained(base)
text = tok.apply_chat_template([{"role": "user", "content": "What is 2 plus 3?"}], tokenize=False)
ids = tok(text, return_tensors="pt").input_ids
with torch.no_grad():
    loss = model(ids, labels=ids).loss.item()
changed = any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), start.state_dict().values()))
print(json.dumps({"loss": loss, "changed": changed, "vocab": model.config.vocab_size, "tok": len(tok)}))
"""


@pytest.mark.slow
@pytest.mark.train
def test_tiny_model_trains_with_llamafactory(tmp_path, verified_dir, tiny_model, train_python):
    summary = export(verified_dir, tmp_path / "data")
    assert summary["rows_written"] == 24
    recipe = recipes.build_recipe(
        "tiny-cpu",
        [
            f"model_name_or_path={tiny_model}",
            f"dataset_dir={tmp_path / 'data'}",
            f"output_dir={tmp_path / 'out'}",
        ],
    )
    config, _ = recipes.emit(recipe, tmp_path)

    run_json = tmp_path / "run.json"
    result = CliRunner().invoke(app, ["run", str(config), "--summary-json", str(run_json)])
    assert result.exit_code == 0, result.output
    assert "step 5/5 loss" in result.output
    run = json.loads(run_json.read_text())
    assert run["returncode"] == 0 and run["steps"] == run["total_steps"] == 5
    losses = [loss for _, loss in run["losses"]]
    assert len(losses) == 5 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0], f"loss did not go down over 5 steps: {losses}"
    assert run["checkpoints"] == [str(tmp_path / "out" / "checkpoint-5")]

    reloaded = last_json(run_train_python(train_python, "-c", RELOAD, run["checkpoints"][0], str(tiny_model)))
    assert math.isfinite(reloaded["loss"]) and reloaded["changed"], reloaded
    assert reloaded["vocab"] == reloaded["tok"]


TOKEN_EXPORTS = """
import json, sys
from thoughtmill.training.cli import app
src, out, tok = sys.argv[1:4]
app(["export", src, out + "/all", "--tokenizer", tok], standalone_mode=False)
full = json.load(open(out + "/all/thoughtmill_verified.summary.json"))
cut = full["length"]["p50"]
app(["export", src, out + "/cut", "--tokenizer", tok, "--max-tokens", str(cut)], standalone_mode=False)
"""


@pytest.mark.train
def test_export_measures_tokens_with_the_students_tokenizer(tmp_path, verified_dir, tiny_model, train_python):
    """`train export --tokenizer` in the train environment (it has transformers): tokens, long rows dropped."""
    proc = run_train_python(
        train_python, "-c", TOKEN_EXPORTS, str(verified_dir), str(tmp_path), str(tiny_model)
    )
    full = json.loads((tmp_path / "all" / "thoughtmill_verified.summary.json").read_text())["length"]
    assert full["unit"] == "tokens" and full["tokenizer"] == str(tiny_model) and full["chat_template"] is True
    assert full["count"] == 24 and sum(b["count"] for b in full["histogram"]) == 24
    filtered = json.loads((tmp_path / "cut" / "thoughtmill_verified.summary.json").read_text())
    kept = filtered["rows_written"]
    assert filtered["length"]["max_tokens"] == full["p50"]
    assert filtered["rows_too_long"] == 24 - kept and 12 <= kept < 24
    records = (tmp_path / "cut" / "thoughtmill_verified" / "train-00000.jsonl").read_text().splitlines()
    assert len(records) == kept
    assert f"exported {kept} of 28 rows" in proc.stdout


def test_fixture_is_the_documented_size():
    rows = [json.loads(x) for x in FIXTURE.read_text().splitlines()]
    assert len(rows) == 28 and sum(r["verified"] for r in rows) == 24
