# `make run` and `make test` are the only commands a newcomer needs: both create the
# virtual environment and install exactly what requirements.lock holds into it, when it is
# missing or older than pyproject.toml or the lock. Python 3.11 or newer is all they expect.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# pip fetches this uv into an environment of its own, so that syncing the project's
# environment, which removes whatever the lock does not hold, never removes uv.
UV_VERSION := 0.13.9
UV_HOME := $(VENV)/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
CODE := assent services gateway storage tests bench
# The locks pin and hash every package as a uv.lock would, but as requirements files they
# record no index and no download address, so the repository names no package index.
# requirements.lock holds the server and dev extras (make run, make test, CI);
# requirements-server.lock the server alone, for the image, constrained to the same pins.
LOCK := requirements.lock
SERVER_LOCK := requirements-server.lock
# Universal: one lock for every platform and every Python the project supports.
COMPILE = $(UV) pip compile --quiet pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock"

.PHONY: run test lint format bench schema lock clean browser

$(UV):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/python -m pip install --quiet uv==$(UV_VERSION)

# The lock is resolved again from a copy of itself, which keeps every pin it can: a
# pyproject.toml changed without `make lock` fails here instead of installing something
# untested. Then the lock is installed as it is, and the project over it without deps.
$(STAMP): pyproject.toml $(LOCK) | $(UV)
	@cp $(LOCK) $(VENV)/lock-check.txt
	@$(COMPILE) --extra server --extra dev -o $(VENV)/lock-check.txt
	@cmp -s $(LOCK) $(VENV)/lock-check.txt || { \
	  echo "pyproject.toml no longer matches $(LOCK): run make lock"; exit 1; }
	$(UV) pip sync --python $(BIN)/python --require-hashes $(LOCK)
	$(UV) pip install --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/assent up

test: $(STAMP) browser
	$(BIN)/python -m pytest

# The portal's browser tests drive Debian's Chromium; install it when it is missing.
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy $(CODE)

format: $(STAMP)
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

schema: $(STAMP)
	$(BIN)/python -m gateway.export_schema

# After a change to the dependencies in pyproject.toml: resolve them again into the locks,
# keeping every pin that still fits (delete a line, or the lock, to move a package on).
lock: | $(UV)
	$(COMPILE) --extra server --extra dev -o $(LOCK)
	$(COMPILE) --extra server --constraint $(LOCK) -o $(SERVER_LOCK)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
