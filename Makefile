# Set-up and checks for thoughtmill. Every target creates what it needs when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv sysdeps demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,ray]"
	touch $@

venv: $(STAMP)

# System packages: bubblewrap (the sandbox's isolation), libseccomp (its seccomp filter, loaded by the
# pyseccomp dependency) and chromium (the run report's browser test: tests/report). Installed only when
# missing and when root.
sysdeps:
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || missing="$$missing libseccomp2"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note:$$missing missing and cannot be installed here; sandbox_report() says what that costs, tests/report skip without chromium"; fi; \
	fi

# The main job on its embedded default: offline, no API key.
demo: venv sysdeps
	$(BIN)/thoughtmill demo

test: venv sysdeps train-env vllm-env
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

bench: venv sysdeps bench-env
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/execution.py
	$(BIN)/python bench/pipeline.py

# Area-specific targets (training environment, vLLM environment, ...) live in mk/*.mk.
-include mk/*.mk

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
