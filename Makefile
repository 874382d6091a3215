# leadflow — one entry point per task. `make run` and `make test` work on a fresh machine.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup run token test test-unit test-integration test-e2e bench bench-engine lint format schemas rebuild-intake infra-up infra-down clean

setup:
	@bash deploy/setup.sh

run: setup ## Kafka + the four services + 100 demo leads, until Ctrl-C
	$(PY) -m leadflow_tools.stack

token: setup ## a bearer token for the embedded stack: make token ROLE=admin [SUB=<user id>] [ORG=<partner org>] [TEAM=<team>]
	@$(PY) -m leadflow_tools token --role $(or $(ROLE),admin) $(if $(SUB),--sub $(SUB)) $(if $(ORG),--org $(ORG)) $(if $(TEAM),--team $(TEAM))

test: setup ## everything: unit, integration (real Kafka + PostgreSQL), e2e, chaos
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

test-integration: setup
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test-e2e: setup
	$(PY) -m pytest -m "e2e or chaos" $(PYTEST_ARGS)

bench: setup ## every figure of docs/performance.md (~50 min; not part of `make test`); BENCH_ARGS=--quick for a smoke run
	$(PY) bench/run.py $(BENCH_ARGS)

bench-engine: setup ## the assignment decision alone, in-process (100 sellers, 20 rules)
	$(PY) bench/assignment.py

rebuild-intake: setup ## drop and rebuild every intake read model from the event store
	$(PY) -m intake.entrypoints.cli rebuild-read-models

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

schemas: setup ## JSON Schemas of the contracts and each service's AsyncAPI document, generated
	$(PY) -m leadflow_tools.schemas docs/contracts

infra-up: setup
	$(PY) -m leadflow_tools kafka start
	$(PY) -m leadflow_tools postgres start --databases intake,assignment,sequence,referral

infra-down:
	-$(PY) -m leadflow_tools kafka stop
	-$(PY) -m leadflow_tools postgres stop

clean:
	rm -rf .run .pytest_cache .ruff_cache .mypy_cache
