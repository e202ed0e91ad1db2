# foodsec-aggregator. `make` alone lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
AGG    := $(BIN)/aggregator
ARGS   ?=

.DEFAULT_GOAL := help
.PHONY: help setup demo refresh status report test reliability bench lint docs clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-9s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(VENV)/.installed ## Create .venv and install the project with its dev tools

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: setup ## Refresh the warehouse from the bundled snapshot (data/demo) and show it
	AGGREGATOR_HAPI_PAUSE=0 $(AGG) refresh --replay data/demo
	$(AGG) sql "select source, count(*) as figures, min(published_on) as oldest, max(published_on) as newest \
	  from figures group by source order by source"
	$(AGG) sql "select a.title, p.period, p.period_start, p.period_end, p.phase, p.population, p.fraction \
	  from ipc_phases p join ipc_analyses a using (source, analysis_id) \
	  where p.source = 'ipc_api' and p.level = 'national' and p.phase in ('3+', '5') \
	  order by a.analysis_date, p.period, p.phase"
	$(AGG) compare --country PSE

refresh: setup ## Refresh from the live services (keys from the environment; ARGS="--source ipc --country PS")
	$(AGG) refresh $(ARGS)

status: setup ## Show each source's last refresh and the table sizes
	$(AGG) status

report: setup ## Write the country report of the demo (PSE on 2024-03-22) into reports/PSE-2024-03-22/
	$(AGG) report --country PSE --as-of 2024-03-22

test: setup ## Run the test suite
	$(BIN)/pytest -q

reliability: setup ## Run the reliability suite (tests/reliability) and write docs/reliability.md
	mkdir -p data/logs && rm -f data/logs/reliability.jsonl
	AGGREGATOR_RELIABILITY_LOG=$(CURDIR)/data/logs/reliability.jsonl $(BIN)/pytest -q tests/reliability
	$(BIN)/python -m tests.reliability.render data/logs/reliability.jsonl > docs/reliability.md

bench: setup ## Run the benchmarks (bench/) and write docs/benchmarks.md
	$(BIN)/python -m bench.run

lint: setup ## Check style and common mistakes
	$(BIN)/ruff check aggregator schemas tests
	$(BIN)/ruff format --check aggregator schemas tests

docs: demo ## Regenerate the data dictionary and the SQL cookbook's results (from the demo)
	$(AGG) schema --markdown > docs/data-dictionary.md
	$(VENV)/bin/python -m tests.cookbook data/warehouse.duckdb

clean: ## Remove the warehouse, raw store, rejects and logs (not the demo snapshot)
	rm -rf data/raw data/rejects data/logs data/warehouse.duckdb data/warehouse.duckdb.wal data/warehouse.duckdb.lock
