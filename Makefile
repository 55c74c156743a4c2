# Two commands set everything up on a fresh machine: `make dev` and `make test`.
# Both create the project virtualenv (.venv) and install what they need into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-installed

.PHONY: dev test lint typecheck unit install clean

$(DEPS): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "cshub needs Python 3.11 (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(DEPS)

install: $(DEPS)

dev: $(DEPS)
	$(BIN)/cshub dev

lint: $(DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEPS)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/cshub playbooks validate
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .cshub .mypy_cache .ruff_cache .pytest_cache build *.egg-info
