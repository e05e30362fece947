# The two commands a newcomer runs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= test

.PHONY: demo test test-servers test-browser venv clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"

demo: $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/python -m feldera_nb.demo

test: venv test-servers test-browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Azurite (npm) for the Azure sync tests, into .test-servers/; fast when already there.
test-servers:
	bash scripts/install-test-servers.sh

# Debian chromium, the notebook test packages and JupyterLab settings for tests/browser and
# tests/notebook; fast when already there.
test-browser: venv
	bash scripts/install-browser-test.sh

clean:
	rm -rf $(VENV) .pytest_cache
