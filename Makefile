# Campaign Dispatch — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
RUN := $(UV) run --frozen
WEB_STAMP := web/node_modules/.package-lock.json

.PHONY: help run fake-provider dev test test-py test-web lint bench soak audit up down migrate seed openapi clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

web/dist/index.html: $(WEB_STAMP) $(shell find web/src web/tooling web/index.html web/vite.config.ts -type f 2>/dev/null)
	cd web && npm run build

run: .venv/.synced web/dist/index.html ## Build everything, migrate, seed an empty database, serve on :8000
	$(RUN) campaign-dispatch migrate
	$(RUN) campaign-dispatch seed --if-empty
	$(RUN) campaign-dispatch serve --no-migrate

fake-provider: .venv/.synced ## A local fake of every provider on :9090, to try the adapters (README, Providers)
	$(RUN) campaign-dispatch fake-provider --port $${FAKE_PROVIDER_PORT:-9090}

dev: .venv/.synced $(WEB_STAMP) ## API with reload on :8000 and the Vite dev server on :5173
	$(RUN) campaign-dispatch migrate && $(RUN) campaign-dispatch seed --if-empty
	trap 'kill 0' EXIT; (cd web && npm run dev) & $(RUN) uvicorn --factory campaign_dispatch.app:create_app --reload --port 8000

test: test-web test-py ## Every test: Python (SQLite, PostgreSQL, RabbitMQ, browser) and dashboard

test-py: .venv/.synced web/dist/index.html
	$(RUN) pytest

test-web: $(WEB_STAMP)
	cd web && npm test

lint: .venv/.synced $(WEB_STAMP) ## ruff, mypy (strict), eslint, tsc, compose file check
	$(RUN) ruff check src tests migrations bench
	$(RUN) ruff format --check src tests migrations bench
	$(RUN) mypy
	$(RUN) mypy --strict bench
	$(RUN) lint-imports
	cd web && npm run lint && npm run typecheck
	@if docker compose version > /dev/null 2>&1; then docker compose -f docker-compose.yml config -q; \
	elif command -v docker-compose > /dev/null; then docker-compose -f docker-compose.yml config -q; \
	else echo "lint: no compose CLI here; tests/unit/test_deployment.py checks the file"; fi

bench: .venv/.synced ## Targets vs same-run floors, local PostgreSQL + RabbitMQ (docs/benchmarks.md)
	$(RUN) python -m bench $(BENCH_ARGS)

soak: .venv/.synced ## Long fault run, not in CI: 200 000 messages, workers killed (docs/reliability.md)
	$(RUN) python -m bench.soak

audit: .venv/.synced $(WEB_STAMP) ## Known vulnerabilities in the locked Python and npm dependencies
	$(RUN) python -m tests.audit

migrate: .venv/.synced ## Apply database migrations
	$(RUN) campaign-dispatch migrate

seed: .venv/.synced ## Load sample data (idempotent)
	$(RUN) campaign-dispatch seed

openapi: .venv/.synced ## Regenerate web/openapi.json and the dashboard's API types
	$(RUN) campaign-dispatch openapi > web/openapi.json
	cd web && npm run gen:api

up: .env ## docker compose: PostgreSQL, RabbitMQ, api, worker, scheduler
	docker compose up --build

# The stack publishes the API beyond loopback, which needs an API key: the first `make up`
# writes one into a new .env (never committed) and says so.
.env:
	@key=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))'); \
	printf 'API_KEYS=%s\n' "$$key" > .env; \
	echo "make: wrote .env with a new API key (API_KEYS); the dashboard will ask for it"

down: ## Stop the compose stack
	docker compose down

clean: ## Remove build outputs and local databases
	rm -rf .venv $(TOOLS) web/node_modules web/dist campaign_dispatch.db*
