# `make run` and `make test` do all set-up on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install browser migrate demo run test lint check-deploy bench bench-import scale-check clean messages compile-messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(INSTALLED)

migrate: install
	$(MANAGE) migrate --no-input

demo: migrate
	$(MANAGE) load_demo

run: demo
	@echo ""
	@echo "  Site:   http://$(HOST):$(PORT)/"
	@echo "  Admin:  http://$(HOST):$(PORT)/admin/"
	@$(MANAGE) first_accounts
	@echo "  More accounts: $(MANAGE) create_account NAME --role editor   (or --role reviewer)"
	@echo "                 $(MANAGE) createsuperuser                    (manages accounts)"
	@echo ""
	$(MANAGE) runserver $(HOST):$(PORT)

# The browser tests drive Debian's chromium; without it they are skipped, loudly.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "!!! chromium could not be installed: the browser tests will be SKIPPED !!!"

test: install browser
	$(MANAGE) collectstatic --no-input -v0
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

# The reader site's translations (tracker/locale): extract new strings, then compile what translators wrote.
# Both need GNU gettext (Debian's gettext package); the compiled .mo files are committed, so nothing else does.
messages: install
	cd tracker && ../$(BIN)/python ../manage.py makemessages -l de -l fr -l uk --no-location --no-obsolete

compile-messages: install
	cd tracker && ../$(BIN)/python ../manage.py compilemessages

# Fills PostgreSQL (BENCH_DB_URL, default tracker_bench on 127.0.0.1) with BENCH_PLEDGES synthetic pledges
# (default 1,000,000), serves the app with gunicorn and prints requests/second as ratios to a raw view.
bench: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/imports.py

# Only the import benchmark: a full Kiel release into SQLite (under 5 s) and 100,000 template rows into PostgreSQL
# (under 3 minutes).
bench-import: install
	$(BIN)/python bench/imports.py

# Several servers on this one machine: a PostgreSQL primary and a streaming replica (pg_basebackup), Redis, two
# gunicorn app servers and haproxy in front, driven by wrk while an editor writes; prints its figures, stops it all.
scale-check: install
	@command -v wrk >/dev/null && command -v haproxy >/dev/null && command -v redis-server >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq wrk haproxy redis-server)
	$(BIN)/python bench/scale_check.py

# What production settings look like to `check --deploy`; fails on any warning.
check-deploy: install
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-$$(openssl rand -hex 40)} ALLOWED_HOSTS=tracker.example.org \
		$(MANAGE) check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
