# ganrun: `make run` trains the default experiment, `make test` runs the tests.
# Both create .venv and install ganrun into it first (once; later calls are no-ops).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: help install test test-slow run tb bench peers docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP)  ## create .venv and install ganrun with its test tools (no-op when up to date)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install  ## run the test suite, one worker per core (about 6 minutes on 2 cores)
	$(BIN)/python -m pytest -q -n auto $(ARGS)

test-slow: install  ## also run the long end-to-end checks (tests marked slow)
	$(BIN)/python -m pytest -q -n auto -m "slow or not slow" $(ARGS)

run: install  ## train the default experiment; extra overrides: make run ARGS="train.steps=500"
	$(BIN)/ganrun $(ARGS)

tb: install  ## open TensorBoard on every run under outputs/
	$(BIN)/tensorboard --logdir outputs

bench: install  ## speed benchmarks (ratios against a baseline measured in the same run)
	@for f in bench/*.py; do [ $$f = bench/peers.py ] && continue; echo "== $$f"; $(BIN)/python $$f || exit 1; done

peers: install  ## ganrun's presets against the scripts people copy, 3 seeds (hours; bench/RESULTS.md)
	$(BIN)/python bench/peers.py $(ARGS)

docs: install  ## write the options' index (ganrun/option_index.py) and reference (docs/options.md, the groups table)
	$(BIN)/python -m ganrun.indexer
	$(BIN)/python -m ganrun.reference docs

clean:  ## delete run outputs and caches (keeps .venv)
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf .pytest_cache build dist *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -exec rm -rf {} +
