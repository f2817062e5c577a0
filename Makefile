# Two commands do all the set-up on a fresh machine (see README and docs/install.md):
#   make run   - create .venv, install (every feature), build the index if needed, serve
#   make test  - create .venv with the test extras, run ruff and the whole test suite
# Every install takes its versions from requirements/lock.txt (the tested set; `make lock`
# renews it), so each machine runs what CI ran.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
LOCK := requirements/lock.txt
PIP := $(BIN)/pip install -q -c $(LOCK)
# two workers on two cores: the suite's session fixtures are built once per worker,
# and each worker has its own PostgreSQL database (tests/conftest.py)
PYTEST_WORKERS ?= 2

.PHONY: run test test-fast build vectors lock lint eval bench ablate clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(PIP) -e '.[all]'
	touch $@

# torch first, pinned: its CPU wheel is on these machines; an unpinned torch pulls CUDA.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q torch==2.13.0
	$(PIP) -e '.[all,st,test,bench]'
	touch $@

# serve builds the index first when it is missing or stale (from the shipped vectors)
run: $(VENV)/.installed
	$(BIN)/tongdian serve --host $(HOST) --port $(PORT)

build: $(VENV)/.installed
	$(BIN)/tongdian build

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/pytest -q -rs -p no:cacheprovider -n $(PYTEST_WORKERS)

# unit tests on a three-entry fixture corpus (under a minute): no full index, server or browser
test-fast: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/pytest -q -rs -p no:cacheprovider -m "not slow"

# the shipped vector cache (tongdian/data/vectors.npz) for the corpus and the default model:
# run after changing the corpus text or the model; embeds only what the file lacks
vectors: $(VENV)/.installed
	$(BIN)/python -m tongdian.core.search.vectors

# renew the lock from pyproject.toml (newest versions the bounds allow; torch stays 2.13.0)
lock: | $(BIN)/python
	$(BIN)/pip install -q 'pip-tools>=7.4'
	$(BIN)/pip-compile -q --extra all --extra st --extra test --extra bench --extra lock \
	  -c requirements/torch.txt --strip-extras --unsafe-package tongdian \
	  --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
	  -o $(LOCK) pyproject.toml

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
