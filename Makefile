# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast test-engines lint typecheck bench clean install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/alsnet demo --out alsnet-demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -p no:cacheprovider --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow and not postgres"

# Federation engines (vantage6 5.x needs Python >= 3.13; flwr pins typer<0.21): own venv.
ENGINES_PY    ?= $(or $(shell ls $$HOME/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1),python3.13)
ENGINES_VENV  ?= .venv-engines
ENGINES_STAMP := $(ENGINES_VENV)/.installed

$(ENGINES_STAMP): pyproject.toml
	$(ENGINES_PY) -m venv $(ENGINES_VENV)
	$(ENGINES_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(ENGINES_VENV)/bin/python -m pip install --quiet -e '.[vantage6,flower]' 'pandas<3' 'numpy<2.5' pytest hypothesis
	touch $(ENGINES_STAMP)

test-engines: $(ENGINES_STAMP)
	$(ENGINES_VENV)/bin/python -m pytest -p no:cacheprovider --durations=10 tests/federated/test_vantage6.py tests/federated/test_flower.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(ENGINES_VENV) alsnet-demo .pytest_cache build *.egg-info src/*.egg-info
