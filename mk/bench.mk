# The peer the engine benchmark compares against (Curator) lives in its own venv: it pins its own
# datasets and litellm versions, and the benchmark runs it as a subprocess.
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: bench-env

$(BENCH_STAMP): mk/bench.mk
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q "bespokelabs-curator"
	touch $@

bench-env: $(BENCH_STAMP)
