# Holdspace — the two commands a fresh clone needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
BSTAMP := $(VENV)/.installed-bench
AXE    := tests/browser/node_modules/axe-core/axe.min.js
HOST   ?= 127.0.0.1
PORT   ?= 8000
DATA   ?= data

LOADGEN := bench/loadgen/node_modules/ws/package.json
PEER_NODE := bench/peers/node/node_modules/socket.io/package.json
PY_DIRS := server client tests bench scripts deploy/local-cluster

.PHONY: run test bench bench-quick lint typecheck unit install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# PIP runs quietly: setuptools' boxed notice about editable installs reads like a failure.
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

$(TSTAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@ $(STAMP)

# The benchmark's python-socketio peer and its HTTP client (the `bench` extra).
$(BSTAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[bench]'
	touch $@ $(STAMP)

# axe-core for the browser tests' accessibility checks, exactly as the lockfile pins it.
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund
	touch $@

install: $(STAMP)
install-test: $(TSTAMP)

## Serve on the embedded backend (SQLite + in-process hub), seeding a demo on first start.
run: $(STAMP)
	$(BIN)/holdspace serve --host $(HOST) --port $(PORT) --data-dir $(DATA) --demo

$(LOADGEN): bench/loadgen/package.json bench/loadgen/package-lock.json
	npm ci --prefix bench/loadgen --no-audit --no-fund
	touch $@

# The benchmark's Node socket.io peer, exactly as its lockfile pins it.
$(PEER_NODE): bench/peers/node/package.json bench/peers/node/package-lock.json
	npm ci --prefix bench/peers/node --no-audit --no-fund
	touch $@

## The fan-out benchmark: every target side by side, twice, with 100- and 2,000-character
## messages, then 10,000 members (takes a while); results in bench/results/.
bench: $(BSTAMP) $(LOADGEN) $(PEER_NODE)
	./scripts/ensure-redis
	$(BIN)/python -m bench.fanout
	$(BIN)/python -m bench.fanout --body-chars 2000
	$(BIN)/python -m bench.fanout --rooms 1000 --targets embedded,redis-w1,socketio-node --repeats 1

## A few rooms for a few seconds: a quick look, nothing written.
bench-quick: $(BSTAMP) $(LOADGEN) $(PEER_NODE)
	./scripts/ensure-redis
	$(BIN)/python -m bench.fanout --quick --no-write

## Everything CI checks: lint, types, the whole test suite.
test: $(TSTAMP) $(LOADGEN) $(AXE)
	./scripts/ensure-redis
	./scripts/ensure-nginx
	./scripts/ensure-browser
	$(MAKE) --no-print-directory lint typecheck
	$(BIN)/pytest

## Lint and formatting only.
lint: $(TSTAMP)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

## Type checks only (strict for the server, the client and the local cluster).
typecheck: $(TSTAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict deploy/local-cluster

## The tests that need no server, browser or Redis: the core, the protocol, the text.
unit: $(TSTAMP)
	$(BIN)/pytest -m "not integration" --ignore=tests/browser --ignore=tests/scale --ignore=tests/deploy --ignore=tests/hub --ignore=tests/storage

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis tests/browser/node_modules bench/loadgen/node_modules bench/peers/node/node_modules
