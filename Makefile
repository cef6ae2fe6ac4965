# `make demo` and `make test` set everything up from a clean clone, then run.
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
# Test upstreams that speak MCP 2026-07-28 need mcp 2.x, which the main venv cannot have (langchain-mcp-adapters
# pins mcp<2), so they run from a venv of their own.
VENV_MCP2 := .venv-mcp2
# The web chat's libraries, copied from node_modules (package-lock.json pins them) into the package it serves from.
WEB_VENDOR := orchestra/server/web/vendor
# Helm for the chart's tests (helm lint, helm template), fetched and checked by scripts/fetch-helm.sh.
HELM := var/tools/helm

.PHONY: setup demo test lint eval bench lock clean

setup: $(VENV)/.installed $(VENV_MCP2)/.installed node_modules/.installed $(WEB_VENDOR)/.installed $(VENV)/.readability \
	$(HELM) system-packages

$(VENV)/.installed: requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $@

$(VENV_MCP2)/.installed: requirements-mcp2.lock
	python3 -m venv $(VENV_MCP2)
	$(VENV_MCP2)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV_MCP2)/bin/uv pip sync --quiet --python $(VENV_MCP2)/bin/python requirements-mcp2.lock
	touch $@

# The reference fetch server runs `npm install` on its first HTML page; do it once here instead.
$(VENV)/.readability: $(VENV)/.installed
	cd "$$($(PY) -c 'import os, readabilipy; print(os.path.dirname(readabilipy.__file__))')/javascript" && \
		npm install --no-audit --no-fund --loglevel=error
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_VENDOR)/.installed: node_modules/.installed
	mkdir -p $(WEB_VENDOR)
	cp node_modules/marked/lib/marked.esm.js node_modules/dompurify/dist/purify.es.mjs \
		node_modules/chart.js/dist/chart.umd.min.js $(WEB_VENDOR)/
	touch $@

$(HELM): scripts/fetch-helm.sh
	scripts/fetch-helm.sh $@

.PHONY: system-packages
system-packages:
	scripts/system-packages.sh redis-server chromium prometheus prometheus-alertmanager caddy

demo: setup
	scripts/demo.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m orchestra config docs --check

test: setup lint
	$(VENV)/bin/pytest
	$(MAKE) --no-print-directory eval

# Replays every shipped evaluation suite from its cassettes (no gateway, no model, no network); reports in var/eval/.
eval: setup
	$(VENV)/bin/orchestra eval run evals/suites/*.yaml --json var/eval/results.json --junit var/eval/junit.xml \
		--html var/eval/report.html

bench: setup
	$(PY) -m bench.gateway --contextforge
	$(PY) -m bench.eras
	$(PY) -m bench.server
	$(PY) -m bench.evals
	$(PY) -m bench.routing

# Re-resolve the pinned Python dependencies after changing pyproject.toml or requirements-mcp2.in.
lock: $(VENV)/.installed
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o requirements.lock
	$(UV) pip compile requirements-mcp2.in --python-version 3.11 --quiet -o requirements-mcp2.lock

clean:
	rm -rf $(VENV) $(VENV_MCP2) node_modules $(WEB_VENDOR) .pytest_cache .ruff_cache
