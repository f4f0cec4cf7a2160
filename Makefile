# Locker: `make run` to use it, `make test` to check it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 1
THREADS ?= 16
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: run run-s3 serve-on-s3 install install-test test test-sqlite test-postgres migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.stamp-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.stamp-s3: requirements-s3.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-s3.txt
	touch $@

$(VENV)/.stamp-test: requirements-test.txt requirements-s3.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

node_modules/.stamp: package.json package-lock.json
	# No package needs an install script; skipping them also skips a dependency's telemetry hook.
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.stamp-run node_modules/.stamp

# Browser tests drive Debian's Chromium (Playwright's own download is not available here).
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

# Readiness tests start a Redis server of their own (Debian's redis-server).
/usr/bin/redis-server:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; \
	else sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; fi

install-test: install $(VENV)/.stamp-test /usr/bin/chromium /usr/bin/redis-server

migrate: install
	$(FLASK) db upgrade

## Start Locker on the embedded defaults (SQLite under instance/, files on local disk).
## `make run HOST=0.0.0.0` serves the local network.
GUNICORN := $(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS) \
	--threads $(THREADS) --worker-class gthread --timeout 120 --access-logfile - \
	--access-logformat '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss' wsgi:app

run: migrate
	$(FLASK) locker bootstrap --host $(HOST) --port $(PORT)
	exec $(GUNICORN)

## Start Locker on a local SeaweedFS (a real S3 store; data in instance/seaweedfs/, keys in
## instance/seaweedfs-identities.json). Ctrl-C stops both.
run-s3: migrate $(VENV)/.stamp-s3
	PUBLIC_URL=$${PUBLIC_URL:-http://$(HOST):$(PORT)} exec $(BIN)/python -m scripts.seaweedfs run -- \
		$(MAKE) --no-print-directory serve-on-s3

# What run-s3 runs once SeaweedFS answers (its address and keys are in the environment).
serve-on-s3:
	$(FLASK) locker setup-storage
	$(FLASK) locker bootstrap --host $(HOST) --port $(PORT)
	exec $(GUNICORN)

## Run every test on SQLite, then on PostgreSQL.
test: install-test
	$(MAKE) --no-print-directory test-sqlite test-postgres

test-sqlite:
	TEST_DATABASE_URL=sqlite:// $(BIN)/pytest $(PYTEST_ARGS)

test-postgres:
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache

## Transfer benchmark, run by hand (not part of `make test`): Locker vs plain S3/copyparty, local and S3.
## A quick run: `make bench BENCH_ARGS="--sizes 1M,64M"`. Needs curl.
BENCH_ARGS ?=
.PHONY: bench

$(VENV)/.stamp-bench: requirements-bench.txt requirements-s3.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(VENV)/.stamp-bench
	$(BIN)/python bench/transfer.py $(BENCH_ARGS)
