# descentlab — the two quickstart commands bootstrap .venv from nothing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# pip takes torch==2.13.0 (CPU build) from the machine's local wheel store when one is configured.
PIP    := $(BIN)/python -m pip

.PHONY: demo test lint mutation install install-test browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Debian's chromium for the end-to-end playground test (Playwright drives it; it never downloads a browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: the browser test will be skipped (install Debian's chromium as root)"; fi; }

demo: $(VENV)/.installed
	$(BIN)/descentlab compare

# The whole suite in random order (pytest-randomly prints the seed: rerun that order with
# --randomly-seed=N), with the branch coverage of src/ printed at the end.
test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest -q --cov --cov-report=term

$(VENV)/.installed-mutation: pyproject.toml $(VENV)/.installed-test
	$(PIP) install --quiet -e '.[test,mutation]'
	touch $@

# Mutation testing of the modules that hold the math and the bookkeeping (not part of make test):
# see tools/mutation.py and docs/mutation.md.
mutation: $(VENV)/.installed-mutation
	$(BIN)/python tools/mutation.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache mutants .coverage
