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

.PHONY: run run-s3 serve-on-s3 install install-test test test-sqlite test-postgres test-deploy migrate clean

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

# Browser tests drive Debian's Chromium (Playwright's own download is not available here); the backup tests
# run PostgreSQL's client programs (pg_dump, pg_restore, psql); the deployment tests put Debian's nginx and
# caddy in front of Locker and check the systemd units with systemd-analyze (no systemd needs to run).
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); \
	else sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); fi

/usr/bin/chromium:
	@$(call APT_INSTALL,chromium)

/usr/bin/pg_dump:
	@$(call APT_INSTALL,postgresql-client)

/usr/sbin/nginx:
	@$(call APT_INSTALL,nginx)

/usr/bin/caddy:
	@$(call APT_INSTALL,caddy)

/usr/bin/systemd-analyze:
	@$(call APT_INSTALL,systemd)

/usr/bin/curl:
	@$(call APT_INSTALL,curl)

# Readiness tests start a Redis server of their own.
/usr/bin/redis-server:
	@$(call APT_INSTALL,redis-server)

install-test: install $(VENV)/.stamp-test /usr/bin/chromium /usr/bin/pg_dump /usr/sbin/nginx /usr/bin/caddy \
	/usr/bin/systemd-analyze /usr/bin/curl /usr/bin/redis-server

migrate: install
	$(FLASK) db upgrade

## Start Locker on the embedded defaults (SQLite under instance/, files on local disk).
## `make run HOST=0.0.0.0` serves the local network; `make run HOST=0.0.0.0 HTTPS=1` does it over
## https with a self-signed certificate made on first start and kept in TLS_DIR.
HTTPS ?=
TLS_DIR ?= instance/tls
GUNICORN := $(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS) \
	--threads $(THREADS) $(if $(HTTPS),--certfile $(TLS_DIR)/cert.pem --keyfile $(TLS_DIR)/key.pem) wsgi:app
# Over https, cookies are sent only over https.
RUN_ENV := $(if $(HTTPS),SECURE_COOKIES=1)
BOOTSTRAP := $(FLASK) locker bootstrap --host $(HOST) --port $(PORT) $(if $(HTTPS),--https --tls-dir $(TLS_DIR))

run: migrate
	$(RUN_ENV) $(BOOTSTRAP)
	$(RUN_ENV) exec $(GUNICORN)

## Start Locker on a local SeaweedFS (a real S3 store; data in instance/seaweedfs/, keys in
## instance/seaweedfs-identities.json). Ctrl-C stops both.
run-s3: migrate $(VENV)/.stamp-s3
	PUBLIC_URL=$${PUBLIC_URL:-http://$(HOST):$(PORT)} exec $(BIN)/python -m scripts.seaweedfs run -- \
		$(MAKE) --no-print-directory serve-on-s3

# What run-s3 runs once SeaweedFS answers (its address and keys are in the environment).
serve-on-s3:
	$(FLASK) locker setup-storage
	$(RUN_ENV) $(BOOTSTRAP)
	$(RUN_ENV) exec $(GUNICORN)

## Run every test on SQLite, then on PostgreSQL; the deployment tests (tests/deploy/) once, as they
## start their own processes and choose their own database.
## Most tests wait on sockets, browsers and subprocesses rather than compute, so TEST_WORKERS pytest
## processes (pytest-xdist, a test file to each in turn, so a file's shared browser or store is started
## once) run them side by side. The browser tests drive pages whose queries the API and service tests
## already run on both databases; they run on SQLite, and the deployment test drives Chromium on PostgreSQL.
TEST_WORKERS ?= 4
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

test: install-test
	$(MAKE) --no-print-directory test-sqlite test-postgres test-deploy

test-sqlite:
	TEST_DATABASE_URL=sqlite:// $(PYTEST) --ignore=tests/deploy $(PYTEST_ARGS)

test-postgres:
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(PYTEST) --ignore=tests/deploy --ignore-glob='tests/test_browser*.py' \
		$(PYTEST_ARGS)

test-deploy:
	TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest tests/deploy $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache

## Transfer benchmark, run by hand (not part of `make test`): Locker vs plain S3/copyparty, local and S3.
## A quick run: `make bench BENCH_ARGS="--sizes 1M,64M"`. Needs curl.
## API benchmark (bench/api.py): requests per second of the API's hot path against bare Flask, under wrk.
BENCH_ARGS ?=
.PHONY: bench bench-api

$(VENV)/.stamp-bench: requirements-bench.txt requirements-s3.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

/usr/bin/wrk:
	@$(call APT_INSTALL,wrk)

bench: $(VENV)/.stamp-bench /usr/bin/wrk
	$(BIN)/python bench/transfer.py $(BENCH_ARGS)

bench-api: $(VENV)/.stamp-bench /usr/bin/wrk
	$(BIN)/python bench/api.py $(BENCH_ARGS)
