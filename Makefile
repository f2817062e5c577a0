# Two commands do all the set-up on a fresh machine (see README):
#   make run   - create .venv, install, build the index if needed, serve on 127.0.0.1:8000
#   make test  - create .venv with the test extras, run ruff and the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast build lint eval bench ablate clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# torch first, pinned: its CPU wheel is on these machines; an unpinned torch pulls CUDA.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[st,test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/tongdian build
	$(BIN)/tongdian serve --host $(HOST) --port $(PORT)

build: $(VENV)/.installed
	$(BIN)/tongdian build

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider

# unit tests on a three-entry fixture corpus (under 30 s): no full index, server or browser
test-fast: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/pytest -q -p no:cacheprovider -m "not slow"

eval: $(VENV)/.installed
	$(BIN)/tongdian eval ../shared/eval/dev_queries.jsonl
	$(BIN)/tongdian eval ../shared/eval/real_dev.jsonl --half held-out

# quality (~1 min), performance (~13 min), load (~1.5 min); tables as in the README
bench: $(VENV)/.installed-test
	mkdir -p bench/out
	$(BIN)/python -m bench.quality ../shared/eval/dev_queries.jsonl --markdown --repeat 3 --json bench/out/quality.json
	$(BIN)/python -m bench.quality ../shared/eval/real_dev.jsonl --half held-out --markdown --repeat 3 --json bench/out/quality-real.json
	$(BIN)/python -m bench.perf --markdown --json bench/out/perf.json
	$(BIN)/python -m bench.load --json bench/out/load.json

# what the written examples and the bank-related calibration add (~8 min)
ablate: $(VENV)/.installed
	$(BIN)/python -m bench.ablate --markdown

clean:
	rm -rf var
