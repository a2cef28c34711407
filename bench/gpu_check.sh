#!/usr/bin/env bash
# The three vLLM paths of tests/vllm on a CUDA machine, with a real model, and their figures.
#
#   bench/gpu_check.sh [MODEL_DIR] [--n 512 --max-tokens 256 --concurrency 64 --repeats 8]
#
# MODEL_DIR: a local Hugging Face model folder (e.g. a copy of Qwen2.5-0.5B-Instruct); the GPU box
# has no internet. Without it, a random Qwen2 model of ~0.1B parameters is built here with
# thoughtmill.training.tiny_model (figures then measure the machinery, not a real model's lengths).
# Python: $THOUGHTMILL_VLLM_PYTHON, else python3 — it must have a CUDA build of vllm, and this
# project importable (the repo is put on PYTHONPATH). .venv-vllm is the CPU build: not used here.
# Output: bench/out/gpu_check_<time>/figures.jsonl and a markdown table for docs/benchmarks.md.
# Set GPU_CHECK_DEVICE=cpu to run the same code with CPU settings (how this script was checked).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEVICE="${GPU_CHECK_DEVICE:-cuda}"
PY="${THOUGHTMILL_VLLM_PYTHON:-python3}"

MODEL=""
if [[ $# -gt 0 && "$1" != --* ]]; then MODEL="$1"; shift; fi
EXTRA=("$@")

die() { echo "gpu_check: $*" >&2; exit 2; }

if [[ "$DEVICE" == cuda ]]; then
  command -v nvidia-smi >/dev/null || die "no nvidia-smi: this is not a CUDA machine (GPU_CHECK_DEVICE=cpu runs the CPU variant)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || die "nvidia-smi failed"
fi
"$PY" - "$DEVICE" <<'EOF' || die "$PY has no usable vllm for this device (set THOUGHTMILL_VLLM_PYTHON to a Python with a CUDA build of vllm)"
import sys
import torch, vllm
if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    sys.exit("torch sees no CUDA device")
print(f"vllm {vllm.__version__}, torch {torch.__version__}, cuda {torch.version.cuda}")
EOF

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
# One process for the offline engine and the evaluator (as in the tests); the server path overrides it.
export VLLM_ENABLE_V1_MULTIPROCESSING=0
# On CPU vLLM otherwise reserves ~92% of the node's memory for its KV cache and refuses to start.
if [[ "$DEVICE" == cpu ]]; then export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"; fi
OUT="$ROOT/bench/out/gpu_check_$(date +%Y%m%dT%H%M%S)"
mkdir -p "$OUT"

if [[ -z "$MODEL" ]]; then
  MODEL="$ROOT/.cache/tiny-model/gpu-check"
  if [[ "$DEVICE" == cuda ]]; then
    SIZE=(--hidden-size 1024 --heads 16 --kv-heads 4 --layers 8 --intermediate-size 2816)
  else
    SIZE=()
  fi
  echo "building a random model in $MODEL (${SIZE[*]:-defaults})"
  "$PY" -m thoughtmill.training.tiny_model "$MODEL" "${SIZE[@]}" >"$OUT/model.json"
fi
[[ -f "$MODEL/config.json" ]] || die "$MODEL has no config.json: pass a local model folder"

if [[ "$DEVICE" == cpu ]]; then
  SIZES=(--n 24 --max-tokens 32 --concurrency 2 --repeats 2 --max-model-len 512)
else
  SIZES=(--n 512 --max-tokens 256 --concurrency 64 --repeats 8 --max-model-len 2048)
fi

for path in offline eval server; do
  echo "== $path"
  "$PY" bench/gpu_paths.py "$path" --model "$MODEL" --out "$OUT/$path" --device "$DEVICE" \
    --figures "$OUT/figures.jsonl" "${SIZES[@]}" "${EXTRA[@]}" >"$OUT/$path.log" 2>&1 \
    || die "$path failed; see $OUT/$path.log"
  tail -n 1 "$OUT/figures.jsonl"
done

"$PY" - "$OUT/figures.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("\n| path | device | model | prompts | max tokens | requests/s | completion tokens/s | checks |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    checks = {k: r[k] for k in ("killed_mid_run", "resumed_complete", "repeatable", "rescore_identical") if k in r}
    print(f"| {r['path']} | {r['device']} | {r['model'].rsplit('/', 1)[-1]} | {r.get('generations', r['n'])} | "
          f"{r['max_tokens']} | {r['requests_per_s']} | {r['completion_tokens_per_s']} | "
          f"{', '.join(f'{k}={v}' for k, v in checks.items())} |")
EOF
echo "figures: $OUT/figures.jsonl"
