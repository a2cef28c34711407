"""Build a tiny, randomly initialised Qwen2 model and a locally trained tokenizer, with no hub.

Shared by the training tests (a real LLaMA-Factory run on CPU) and the vLLM tests: defaults are chosen
for both (vLLM's CPU attention needs head_dim >= 32, hence hidden 128 / 4 heads; vocab_size is exactly
len(tokenizer) so a sampler never picks an id the tokenizer lacks). The build is cached: OUT_DIR keeps a
stamp with the content hash of the parameters and the corpus, and an equal hash skips the rebuild.

    python -m training.tiny_model OUT_DIR [--corpus FILE] [--hidden-size 128 --heads 4 ...]

Needs torch, transformers and tokenizers (the train environment has them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

BUILDER_VERSION = 1
STAMP = "thoughtmill_tiny_model.json"
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """Everything that determines the built files (with the corpus)."""

    hidden_size: int = 128
    heads: int = 4
    kv_heads: int = 2
    layers: int = 2
    intermediate_size: int = 256
    max_positions: int = 2048
    bpe_vocab: int = 2048
    seed: int = 0

    def check(self) -> None:
        """Reject shapes the model or vLLM's CPU kernel cannot use, before any heavy import."""
        if self.hidden_size % self.heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by heads {self.heads}")
        if self.heads % self.kv_heads:
            raise ValueError(f"heads {self.heads} is not divisible by kv_heads {self.kv_heads}")
        if self.hidden_size // self.heads < 32:
            raise ValueError(
                f"head_dim {self.hidden_size // self.heads} < 32: vLLM's CPU attention rejects it"
            )


def default_corpus() -> str:
    """A few hundred lines covering ChatML, the OpenThoughts markers, math and Python, made here."""
    from thoughtmill.curation.prompts import REASONING_SYSTEM_PROMPT

    lines = [REASONING_SYSTEM_PROMPT, "<think>", "</think>"]
    for marker in ("begin_of_thought", "end_of_thought", "begin_of_solution", "end_of_solution"):
        lines.append(f"<|{marker}|>")
    for a in range(1, 41):
        b = (a * 7) % 13 + 1
        lines.append(f"What is {a} plus {b}? First add the units, then check: {a} + {b} = {a + b}.")
        lines.append(f"The product of {a} and {b} is {a * b}, so the answer is \\boxed{{{a * b}}}.")
        lines.append(f"def f{a}(n):\n    return n * {b} + {a}\n\nprint(f{a}(int(input())))")
        lines.append(f"Let me verify step {a}: the rectangle with sides {a} and {b} has area {a * b}.")
    return "\n".join(lines) + "\n"


def corpus_text(path: str | None) -> str:
    """The corpus: a text file as is; a .jsonl file's string fields, one per line; else the default."""
    if path is None:
        return default_corpus()
    p = Path(path)
    if p.suffix == ".jsonl":
        out = []
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{p}:{n}: not valid JSON ({err})") from err
                out.extend(v for v in row.values() if isinstance(v, str))
        return "\n".join(out) + "\n" + default_corpus()
    return p.read_text(encoding="utf-8")


def content_hash(spec: TinySpec, corpus: str) -> str:
    """Hash of builder version, parameters and corpus: equal hash, equal files."""
    h = hashlib.sha256(json.dumps({"v": BUILDER_VERSION, **asdict(spec)}, sort_keys=True).encode())
    h.update(corpus.encode())
    return h.hexdigest()[:20]


def is_built(out_dir: Path, digest: str) -> bool:
    """True when OUT_DIR holds a finished build with this hash."""
    stamp = out_dir / STAMP
    try:
        return json.loads(stamp.read_text())["hash"] == digest
    except (OSError, ValueError, KeyError):
        return False


def _train_tokenizer(corpus: str, vocab: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus.splitlines(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        chat_template=CHATML_TEMPLATE,
        model_max_length=2048,
    )


def build(out_dir: str | Path, spec: TinySpec | None = None, corpus_path: str | None = None) -> Path:
    """Build (or reuse) the tiny model in OUT_DIR; returns OUT_DIR."""
    spec = spec or TinySpec()
    spec.check()
    out = Path(out_dir)
    corpus = corpus_text(corpus_path)
    digest = content_hash(spec, corpus)
    if is_built(out, digest):
        return out
    try:
        import torch
        from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM
    except ImportError as err:
        raise SystemExit(
            f"training.tiny_model needs torch, transformers and tokenizers ({err}). Run it with the train "
            "environment: .venv-train/bin/python -m training.tiny_model OUT_DIR (build it: make train-env)"
        ) from err
    if out.exists() and any(out.iterdir()) and not (out / STAMP).exists():
        raise SystemExit(f"{out} exists and is not a tiny-model build (no {STAMP}): refusing to overwrite it")
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    tokenizer = _train_tokenizer(corpus, spec.bpe_vocab)
    tokenizer.save_pretrained(partial)
    torch.manual_seed(spec.seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(partial)
    GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    ).save_pretrained(partial)
    (partial / STAMP).write_text(
        json.dumps(
            {"hash": digest, "spec": asdict(spec), "corpus": corpus_path, "vocab_size": len(tokenizer)},
            indent=2,
        )
    )
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry: build or reuse, print the directory and whether it was cached."""
    parser = argparse.ArgumentParser(
        prog="python -m training.tiny_model", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out_dir")
    parser.add_argument("--corpus", default=None, help="text file, or .jsonl whose string fields are used")
    defaults = TinySpec()
    for name in asdict(defaults):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    args = parser.parse_args(argv)
    spec = TinySpec(**{k: getattr(args, k) for k in asdict(defaults)})
    try:
        spec.check()
    except ValueError as err:
        parser.error(str(err))
    out = Path(args.out_dir)
    cached = is_built(out, content_hash(spec, corpus_text(args.corpus)))
    build(out, spec, args.corpus)
    print(json.dumps({"path": str(out.resolve()), "cached": cached, **json.loads((out / STAMP).read_text())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
