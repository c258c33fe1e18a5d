# The verbs of rpa-platform. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

STACK ?= dev
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
POLICY_VENV := infra/policies/venv
PULUMI_VERSION := 3.272.0

# Local defaults: state in the repository (gitignored), a documented passphrase for its secrets, the local
# Prefect server. Override any of them in the environment (CI passes its own backend and passphrase).
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_CONFIG_PASSPHRASE ?= rpa-platform-local
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
PREFECT_HOME ?= $(CURDIR)/.prefect-home
export PREFECT_HOME

.PHONY: help setup lint check list-config test bench deploy demo-erp image server server-stop local preview up refresh destroy pulumi-cli stack-file

help: ## List the verbs
	@grep -E '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort | expand -t 16

setup: ## Create the virtualenvs: the project's (.venv) and the policy pack's (infra/policies/venv)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	test -x $(POLICY_VENV)/bin/python || $(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet -r infra/policies/requirements.txt

lint: ## ruff: lint and formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: ## Validate every stack file (Pulumi.<stack>.yaml), the rules between them, and prefect.yaml against them
	$(BIN)/python -m infra.check

list-config: ## Show what each stack puts on Prefect and Docker, by name
	$(BIN)/python -m infra.list_config

test: ## Run the test suite (real Prefect server; Docker tests need the engine and `make image`)
	$(BIN)/python -m pytest

bench: ## Benchmarks (not part of CI): the flows' runtime, the providers' latency; results in bench-results/
	$(BIN)/python -m tests.bench.run
	$(BIN)/python -m tests.bench.provider_latency

deploy: check stack-file ## prefect deploy: the flows' deployments of STACK (default dev), to the stack's API
	api_url=$$($(BIN)/python -m infra.list_config --api-url $(STACK)) && PREFECT_API_URL=$$api_url \
	  $(BIN)/prefect --no-prompt deploy --name rpa1/$(STACK) --name rpa2/$(STACK) --name rpa3/$(STACK)

run-%: ## Run a deployment and follow it: `make run-rpa3-dev` runs rpa3/dev on the dev stack's API
	api_url=$$($(BIN)/python -m infra.list_config --api-url $(lastword $(subst -, ,$*))) && \
	  PREFECT_API_URL=$$api_url $(BIN)/prefect deployment run $(subst -,/,$*) --watch

demo-erp: ## The demo ERP the flows call, on 127.0.0.1:8765 (foreground)
	$(BIN)/python -m flows.demo_erp --port 8765

image: ## Build the runtime image (workers and flow runs) locally, without a registry
	bash docker/build-images.sh

LOCAL_SERVER = $(BIN)/python -m local_prefect_server --host 127.0.0.1 --port $(or $(SERVER_PORT),4200)

server: ## Start the local Prefect server on 127.0.0.1:4200 unless one answers (state and server.log in .prefect-home/)
	@$(LOCAL_SERVER) start

server-stop: ## Stop the local Prefect server started by `make server`
	@$(LOCAL_SERVER) stop

local: pulumi-cli server image up ## The main job on the embedded defaults: local server, image, `up` for STACK

stack-file:
	@test -f Pulumi.$(STACK).yaml || { echo "No stack file Pulumi.$(STACK).yaml (stacks: dev, staging, prod)"; exit 1; }

pulumi-cli:
	@command -v pulumi >/dev/null || { \
	  echo "The Pulumi CLI is not installed; nothing was done. Install the pinned version:"; \
	  echo "  curl -fsSL https://get.pulumi.com | sh -s -- --version $(PULUMI_VERSION)"; \
	  echo "then run this again. (Everything else - make check, make test - works without it.)"; \
	  exit 1; }

# --refresh: read what is really on the server first, so drift and objects deleted out of band are put back.
preview: pulumi-cli stack-file check ## pulumi preview for STACK (default dev), with the policy pack
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK) --policy-pack infra/policies --refresh --diff

up: pulumi-cli stack-file check ## pulumi up for STACK (default dev), with the policy pack
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK) --policy-pack infra/policies --refresh --yes

refresh: pulumi-cli stack-file ## pulumi refresh for STACK: show drift between the stack and what is really there
	pulumi refresh --stack $(STACK) --yes

destroy: pulumi-cli stack-file ## pulumi destroy for STACK
	pulumi destroy --stack $(STACK) --yes
