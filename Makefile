# `make run` and `make test` are the only commands a newcomer needs: both create the
# virtual environment and install exactly what uv.lock holds into it, when it is missing
# or older than pyproject.toml or uv.lock. Python 3.11 or newer is all they expect.
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

.PHONY: run test lint format bench schema lock clean browser

$(UV):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/python -m pip install --quiet uv==$(UV_VERSION)

# --locked: the lock is installed as it is, and a pyproject.toml changed without
# `make lock` fails here instead of installing something untested.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(BIN)/python --extra server --extra dev
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

# After a change to the dependencies in pyproject.toml: resolve them again into uv.lock.
lock: | $(UV)
	$(UV) lock

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
