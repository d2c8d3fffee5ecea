# Everything runs from a project-local virtualenv so a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-dev run test lint check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

# The test suite needs the dev tools and every cloud extra (adapters are tested too).
install-dev: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev,aws,gcp,azure]"

run: install
	$(BIN)/ai-proxy --config config.example.toml

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core adapters
	$(BIN)/mypy

# The whole suite, end-to-end tests with the real Claude Code CLI included.
test: lint
	bash tests/e2e/install_claude_code.sh >/dev/null
	$(BIN)/pytest -q

# Deployable artifacts under build/, one per platform (README, "Deployment" has the deploy commands).
.PHONY: package-lambda package-azure package-cloudrun
package-lambda: $(BIN)/python  ## build/ai-proxy-lambda.zip (size printed) for sam deploy
	$(BIN)/python scripts/package.py lambda

package-azure: $(BIN)/python  ## build/azure/ (.python_packages included) and its zip
	$(BIN)/python scripts/package.py azure

package-cloudrun: $(BIN)/python  ## build/ai-proxy-cloudrun.tar.gz, the docker build context
	$(BIN)/python scripts/package.py cloudrun
