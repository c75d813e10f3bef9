# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
NATIVE  = setup.py media/fanout.c media/fanout.h media/fanout_build.py

.PHONY: run test lint typecheck unit system-deps bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml $(NATIVE) | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

## run: install and start the server with a demo class; prints join links
run: $(STAMP)
	$(VENV)/bin/classroom serve --demo --data-dir ./data

## test: install what the tests need, then lint, type-check and run the suite
test: system-deps $(STAMP) lint typecheck unit

system-deps:
	@PYTHON=$(PYTHON) scripts/system-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest

## bench: run every benchmark and regenerate docs/benchmarks.md's figures and docs/scaling.png
bench: $(STAMP) $(VENV)/.bench-installed
	$(PY) -m bench.all $(BENCH_ARGS)

$(VENV)/.bench-installed: pyproject.toml $(NATIVE) | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
