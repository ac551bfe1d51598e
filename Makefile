# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_PORT_BASE ?= 8000
DEV_ENV := DEBUG=1 PORT=$(PORT)

.PHONY: install run test test-postgres lint bench demo clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

## Set up (venv, requirements, migrations, demo data) and serve on 127.0.0.1:$(PORT).
run: install
	mkdir -p var
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py ensure_keys
	$(DEV_ENV) $(BIN)/python manage.py seed_demo
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

## Set up and run the whole test suite (SQLite unless DATABASE_URL says otherwise).
test: install
	$(BIN)/ruff check .
	$(BIN)/pytest

## The suite against the local PostgreSQL.
test-postgres:
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test $(MAKE) test

## Style, formatting and types (ruff, mypy with the Django and DRF plugins); CI runs it.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The IdP and the GloboTicket demo services as separate processes (open http://127.0.0.1:8001).
## DEMO_PORT_BASE=8100 moves them all (IdP 8100, web 8101, ...): beside `make run`.
demo: install
	mkdir -p var
	DEMO_PORT_BASE=$(DEMO_PORT_BASE) $(BIN)/python demo/run.py

## Token endpoint throughput under gunicorn (2 workers) with wrk; see bench/README.md.
bench: install
	$(BIN)/python bench/token_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
