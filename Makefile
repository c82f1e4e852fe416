# Two commands do all set-up on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test bench lint clean chromium package cosmos-local

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json .npmrc
	npm ci
	touch $@

# Debian's Chromium: the browser for card rendering tests and the Playground end-to-end test.
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

install: $(VENV)/.installed node_modules/.installed chromium

run: install
	$(BIN)/python -m tools.run

test: install
	$(BIN)/python -m pytest

# three interleaved rounds, the table shows each target's median (about 11 minutes on 2 cores);
# e.g. `make bench BENCH_ARGS="--quick"` for a short run
BENCH_ARGS ?= --repeat 3
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# ruff, then mypy over the packages listed in pyproject.toml (strict on register/ and cards/)
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules data .pytest_cache

# A Cosmos DB wire server on 127.0.0.1:8081 for trying the Cosmos backend by hand (tests start their own):
#   COSMOS_ENDPOINT=https://127.0.0.1:8081 COSMOS_KEY=<emulator key> COSMOS_INSECURE_LOCAL=1 make run
cosmos-local: node_modules/.installed
	node tools/cosmos-server.cjs --port 8081

# The Teams app package (build/register-app.zip) for the bot's Entra app id, or its managed identity's client id:
#   make package MicrosoftAppId=<GUID> [APP_VERSION=1.2.3]   (the version defaults to pyproject.toml's)
PACKAGE_OUTPUT ?= build/register-app.zip
package: install
	$(BIN)/python -m tools.manifest --app-id "$(MicrosoftAppId)" --output "$(PACKAGE_OUTPUT)" \
		$(if $(APP_VERSION),--version "$(APP_VERSION)")
