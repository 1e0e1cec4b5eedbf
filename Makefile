# One task runner for people and CI. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

ONCEONLY_HOME ?= $(CURDIR)/var

.PHONY: install browser demo test bench lint format dagster clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## demo: the main job on the embedded default (SQLite, Parquet, DuckDB under ./var)
demo: $(STAMP)
	$(BIN)/onceonly demo

## browser: headless Chromium and a CJK font, for the verification page's browser test (Debian)
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; \
	fi

## test: the whole suite, on SQLite and (when ONCEONLY_TEST_POSTGRES_URL is set) PostgreSQL
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadfile

## bench: every benchmark under bench/, each printing ratios against its same-run baseline
bench: $(STAMP) bench-tools
	@for b in bench/[a-z]*.py; do \
		echo "== $$b"; $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; \
	done

## bench-tools: the HTTP load generator bench/lookup drives the API with (Debian's wrk)
.PHONY: bench-tools
bench-tools:
	@command -v wrk >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## dagster: the Dagster UI over this repository's code location and instance (dagster.yaml)
dagster: $(STAMP)
	mkdir -p $(ONCEONLY_HOME)/dagster/logs
	DAGSTER_HOME=$(CURDIR) ONCEONLY_HOME=$(ONCEONLY_HOME) \
	ONCEONLY_DAGSTER_DIR=$(ONCEONLY_HOME)/dagster ONCEONLY_DAGSTER_LOGS_DIR=$(ONCEONLY_HOME)/dagster/logs \
	$(BIN)/dagster dev

clean:
	rm -rf var .pytest_cache .ruff_cache
