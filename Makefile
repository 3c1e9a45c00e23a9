# Feedback Hub: `make run` (set up + serve the demo) and `make test` (set up + the whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.installed-test-stamp
# System packages the tests drive: Debian's Chromium (for Playwright) and docker-compose
# (to check docker/compose.yaml without a Docker engine); fonts so screenshots read true.
SYSTEM_PACKAGES := chromium chromium-driver docker-compose fonts-dejavu-core fonts-noto-color-emoji

.PHONY: install run test lint system-deps postgres bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests also need the dev tools.
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

run: install
	$(BIN)/feedback-hub serve --demo

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# The tests use the local PostgreSQL (127.0.0.1:5432, database `test`); start it if it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
	  (command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start) || \
	  echo "PostgreSQL is not running on 127.0.0.1:5432: its tests will be skipped (or fail under CI=true)"

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(TEST_STAMP) system-deps postgres lint
	$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term:skip-covered

bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/nlp.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts .coverage
