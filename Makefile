# Feedback Hub: `make run` (set up + serve the demo) and `make test` (set up + the whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.installed-test-stamp
# System packages the tests drive: Debian's Chromium (for Playwright), docker-compose (to check
# docker/compose.yaml without a Docker engine), redis-server (the shared rate limit); fonts so
# screenshots read true.
SYSTEM_PACKAGES := chromium chromium-driver docker-compose redis-server fonts-dejavu-core fonts-noto-color-emoji

.PHONY: install run test coverage lint lock system-deps postgres redis bench clean

# Installs come from the lock files in requirements/ (`make lock` refreshes them), then the
# project itself without its dependencies: every machine gets the same versions.
$(STAMP): pyproject.toml requirements/worker.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/worker.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# The tests also need the dev tools.
$(TEST_STAMP): $(STAMP) requirements/dev.txt
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	touch $@

# Re-resolve the lock files from pyproject.toml: dev.txt (everything) first, then the API's and
# the worker's subsets pinned to the same versions. torch resolves to its CPU build (pip.conf
# here, PyTorch's CPU index in the Docker image).
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --strip-extras \
	--allow-unsafe --no-emit-index-url --no-emit-find-links --upgrade
lock: $(TEST_STAMP)
	$(PIP_COMPILE) --extra nlp --extra dev -o requirements/dev.txt pyproject.toml
	$(PIP_COMPILE) --extra nlp -c requirements/dev.txt -o requirements/worker.txt pyproject.toml
	$(PIP_COMPILE) -c requirements/dev.txt -o requirements/api.txt pyproject.toml

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

# The rate-limit tests use the local Redis (127.0.0.1:6379); start it if it is down.
redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
	  (command -v redis-server >/dev/null && redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no >/dev/null) || \
	  echo "Redis is not running on 127.0.0.1:6379: its tests will be skipped (or fail under CI=true)"

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(TEST_STAMP) system-deps postgres redis lint
	$(BIN)/pytest -n 2 --dist loadfile --durations=25

# The same suite with line coverage: the tracer doubles the time of Python-heavy tests.
coverage: $(TEST_STAMP) system-deps postgres redis
	$(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term:skip-covered

bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/nlp.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts .coverage
