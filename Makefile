# Two commands for a newcomer: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test system-deps check lint typecheck contracts unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## demo: install, then roll a bad release out over a local fleet and watch rollsafe stop it at the canary
demo: $(STAMP)
	$(BIN)/rollsafe demo

## test: install (Python packages into .venv, Debian packages the tests use), run the checks
## (ruff, mypy --strict, import-linter), then every test: one pytest-xdist worker per core, a
## test file per worker (22 min on 2 cores). WORKERS=0: one process (40 min).
WORKERS ?= auto
test: $(STAMP) system-deps check
	$(BIN)/pytest -q -n $(WORKERS) --dist loadfile

## system-deps: the Debian packages of the real components the tests start (quick when present)
system-deps:
	scripts/install-system-deps

check: lint typecheck contracts

lint: $(STAMP)
	$(BIN)/ruff check src tests bench corpus
	$(BIN)/ruff format --check src tests bench corpus

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
