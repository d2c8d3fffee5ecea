# Everything runs from a project-local virtualenv so a fresh machine needs only Python 3.11+.
# Every install is from the locks under requirements/ with hash checking on (README, "Supply chain").
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_LOCKED := $(BIN)/pip install -q --require-hashes --only-binary=:all:

.PHONY: install install-dev run test lint check lock lock-upgrade lock-check audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# pip itself and the build backend come from build.txt, so nothing unhashed is downloaded.
$(VENV)/.build-tools: requirements/build.txt | $(BIN)/python
	$(PIP_LOCKED) -r requirements/build.txt
	touch $@

install: $(VENV)/.build-tools
	$(PIP_LOCKED) -r requirements/gateway.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .

# The test suite needs the dev tools and every cloud extra (adapters are tested too).
install-dev: $(VENV)/.build-tools
	$(PIP_LOCKED) -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .

# After editing dependencies in pyproject.toml; lock-upgrade moves every pin to the newest release.
lock: install-dev
	$(BIN)/python scripts/lock.py

lock-upgrade: install-dev
	$(BIN)/python scripts/lock.py --upgrade

lock-check: install-dev
	$(BIN)/python scripts/lock.py --check

# Known vulnerabilities in every locked package. An audit that cannot reach the service fails,
# saying why; AUDIT_FLAGS=--allow-not-run (.ci/run) says why and passes.
audit: install-dev
	$(BIN)/python scripts/audit.py $(AUDIT_FLAGS)

run: install
	$(BIN)/ai-proxy --config config.example.toml

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core adapters
	$(BIN)/mypy

# The whole suite, end-to-end tests with the real Claude Code CLI included.
test: lock-check lint
	bash tests/e2e/install_claude_code.sh >/dev/null
	bash tests/e2e/install_agent_clis.sh >/dev/null
	$(BIN)/pytest -q

# Deployable artifacts under build/, one per platform (README, "Deployment" has the deploy commands).
.PHONY: package-lambda package-azure package-cloudrun
package-lambda: install-dev  ## build/ai-proxy-lambda.zip (size printed) + .cdx.json SBOM, for sam deploy
	$(BIN)/python scripts/package.py lambda

package-azure: install-dev  ## build/azure/ (.python_packages included) and its zip
	$(BIN)/python scripts/package.py azure

package-cloudrun: install-dev  ## build/ai-proxy-cloudrun.tar.gz, the docker build context
	$(BIN)/python scripts/package.py cloudrun
