# Every target sets itself up: .venv is (re)built from pyproject.toml when it is missing or stale.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
# The first Python >= 3.11 on PATH; override with `make PYTHON=/path/to/python3.12 ...`.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
             command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
             && { command -v $$p; break; }; done)

LINT_PATHS := $(wildcard ioc simulators tests bench scripts)

.PHONY: help demo test lint typecheck unit bench clean kafka-jars test-deps web lock

help:
	@echo "make demo   run the whole system on this machine (embedded broker, worker, ...); Ctrl-C stops it"
	@echo "make test   lint, type-check and run the whole test suite (integration tests start a real broker)"
	@echo "make lint   ruff and mypy, eslint and tsc of the web page"
	@echo "make lock   re-pin requirements.lock from pyproject.toml (after changing a dependency)"
	@echo "make web    build the console's web page (npm ci, then Vite) into ioc/console/static"
	@echo "make bench  run the benchmarks in bench/ (by hand; results go to bench/results/)"
	@echo "make test-deps  install the servers the tests start (Debian, as root: PostgreSQL, Mosquitto, kcat, Java, Kafka)"

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.11 not found; install it or pass PYTHON=..." >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e '.[dev]'
	$(BIN)/python -m pip check
	@touch $(STAMP)

# The pinned tree, resolved afresh from pyproject.toml in a throwaway environment.
lock:
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.11 not found" >&2; exit 1; }
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n '1,/^# after changing/p' requirements.lock; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

# The console's web page: TypeScript and MapLibre from npm (web/package-lock.json), built by
# Vite into the Python package; rebuilt when a source or the lockfile changes.
WEB_SOURCES := $(wildcard web/src/*) web/index.html web/docs.html web/vite.config.ts web/tsconfig.json
WEB_BUILT   := ioc/console/static/index.html
NODE_STAMP  := web/node_modules/.installed

$(NODE_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm (Node.js 20) is needed to build the web page" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

$(WEB_BUILT): $(NODE_STAMP) $(WEB_SOURCES)
	cd web && npm run --silent build

web: $(WEB_BUILT)

demo: $(STAMP) $(WEB_BUILT)
	$(BIN)/ioc demo

lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy ioc simulators
	cd web && npm run --silent lint

test: lint kafka-jars $(WEB_BUILT)
	$(BIN)/python -m pytest

# The servers the integration tests start for themselves (tests/services): Debian's packages
# need root; Apache Kafka's jars come from Maven Central into ~/.cache/ioc (no root needed).
test-deps:
	scripts/install-test-deps.sh

kafka-jars:
	@if command -v java >/dev/null && command -v mvn >/dev/null; then \
	  scripts/fetch-kafka.sh >/dev/null; \
	else \
	  echo "note: no Java or Maven here: the Apache Kafka tests will skip (make test-deps)"; \
	fi

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache web/node_modules ioc/console/static
