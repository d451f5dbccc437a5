# mollie-ledger: the two commands of the README (`make demo`, `make test`) and a few helpers.
# Works on a fresh machine with only python3 >= 3.11: uv is bootstrapped from PyPI if missing.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
PYTEST_ARGS ?=
BENCH_SCALE ?= 100000
BENCH_REPEAT ?= 3
BENCH_BASELINE := $(wildcard docs/benchmarks-baseline.json)
UI_PORT ?= 3000

.PHONY: help uv install system-deps demo test lint format sandbox ui clean bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

uv: ## make sure uv is available (installs it from PyPI when missing)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --user uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv

install: uv ## install the locked environment into .venv
	@$(UV) sync --frozen --quiet

demo: install ## run the pipeline end to end against the built-in Mollie sandbox
	$(UV) run mollie-ledger demo

bench: install ## time every stage against its yardstick; writes docs/benchmarks.md (BENCH_SCALE=…)
	$(UV) run python -m bench --scale $(BENCH_SCALE) --repeat $(BENCH_REPEAT) \
		$(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))

system-deps: ## install Chromium, Prometheus (pushgateway, promtool) and PostgreSQL from apt when missing (root), else say what to install
	@scripts/install-system-deps

test: install system-deps ## run the whole test suite (installs the system programs the tests use, see system-deps)
	$(UV) run pytest $(PYTEST_ARGS)

lint: install ## ruff lint + format check
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: install ## apply ruff fixes and formatting
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

sandbox: install ## serve the Mollie sandbox on 127.0.0.1:8765
	$(UV) run mollie-ledger sandbox --port 8765

ui: install ## the Dagster UI and daemon on 127.0.0.1:3000 (UI_PORT=…; history in .dagster_home/); the sandbox unless MOLLIE_ACCESS_TOKEN is set
	$(UV) run mollie-ledger ui --port $(UI_PORT) $(if $(MOLLIE_ACCESS_TOKEN),,--sandbox)

clean: ## remove local data and caches (not the lock file)
	rm -rf data/*.duckdb data/exports data/quality-docs data/report .pytest_cache .ruff_cache
