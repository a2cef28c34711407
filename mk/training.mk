# Training environment: LLaMA-Factory lives in its own venv because it pins a transformers version
# that conflicts with vLLM's. CPU torch is pinned first so pip never pulls the multi-GB CUDA build.
TRAIN_VENV  := .venv-train
TRAIN_BIN   := $(TRAIN_VENV)/bin
TRAIN_STAMP := $(TRAIN_VENV)/.installed
TRAIN_TORCH ?= torch==2.13.0
TRAIN_LLAMAFACTORY ?= llamafactory==0.9.5

.PHONY: train-env train-test clean-train-env

$(TRAIN_STAMP): mk/training.mk
	test -x $(TRAIN_BIN)/python || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_BIN)/python -m pip install -q "$(TRAIN_TORCH)"
	$(TRAIN_BIN)/python -m pip install -q "$(TRAIN_LLAMAFACTORY)" "$(TRAIN_TORCH)"
	# torchvision arrives as a CUDA build and breaks `import llamafactory.data`; it is unused here.
	$(TRAIN_BIN)/python -m pip uninstall -q -y torchvision
	# torchaudio has no CPU wheel for this torch; without its CUDA .so files it runs in pure-Python mode.
	rm -f $(TRAIN_VENV)/lib/python3*/site-packages/torchaudio/lib/*.so
	HF_HUB_OFFLINE=1 $(TRAIN_BIN)/python -c "import llamafactory.data, llamafactory.hparams"
	touch $@

train-env: $(TRAIN_STAMP)

# The training tests alone (export, recipes, validation, the real tiny run).
train-test: venv train-env
	$(BIN)/python -m pytest -q tests/training

clean-train-env:
	rm -rf $(TRAIN_VENV) .cache/tiny-model
