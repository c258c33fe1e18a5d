# The verbs of rpa-platform. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

STACK ?= dev
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
POLICY_VENV := infra/policies/venv
BUILD := $(CURDIR)/.build

# The pinned Pulumi CLI (tools/pulumi/go.mod) that `make pulumi-cli` puts in .build/bin comes first on PATH, so
# every verb here uses that one binary.
export PATH := $(BUILD)/bin:$(PATH)
export PULUMI_SKIP_UPDATE_CHECK := true

# Local defaults: state in the repository (gitignored), a documented passphrase for its secrets, the local
# Prefect server. Override any of them in the environment (CI passes its own backend and passphrase).
LOCAL_STATE := $(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL ?= file://$(LOCAL_STATE)
export PULUMI_CONFIG_PASSPHRASE ?= rpa-platform-local
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
PREFECT_HOME ?= $(CURDIR)/.prefect-home
export PREFECT_HOME

.PHONY: help setup lint check list-config status test bench bench-handover bench-adaptive bench-engine loadtest loadproof deploy demo-erp image server server-stop local preview up refresh destroy pulumi-cli docker-plugin stack-file pr-preview merge-apply

help: ## List the verbs
	@grep -E '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort | expand -t 16

setup: ## The virtualenvs (.venv, the policy pack's infra/policies/venv), the pinned Pulumi CLI and pulumi-docker's plugin
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# dev: every extra (infra, flows, worker, tools) and the test and lint tools. setuptools warns at every
	@# editable install of folders named like the package's: these folders are the package.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet -e ".[dev]"
	test -x $(POLICY_VENV)/bin/python || $(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet -r infra/policies/requirements.txt
	@# Pulumi starts dynamic providers in the program's directory (infra/) and resolves Pulumi.yaml's
	@# `virtualenv: .venv` from there (pulumi/pulumi#7061): point that path at the project's venv.
	ln -sfn ../$(VENV) infra/$(VENV)
	$(MAKE) --no-print-directory docker-plugin

lint: ## ruff, deptry (imports against pyproject's extras), mypy (infra, flows, operations), actionlint (workflows); gofmt and go vet where Go is installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/deptry infra flows operations rpa_naming local_prefect_server tools
	$(BIN)/mypy infra flows operations rpa_naming local_prefect_server
	MYPYPATH=infra/policies $(BIN)/mypy --explicit-package-bases --python-executable $(POLICY_VENV)/bin/python infra/policies/pack.py infra/policies/__main__.py
	bash tools/actionlint.sh
	@if command -v go >/dev/null; then \
	  test -z "$$(gofmt -l tools/pulumi tools/pulumi-docker)" || { gofmt -l tools/pulumi tools/pulumi-docker; echo "gofmt: format these"; exit 1; }; \
	  cd tools/pulumi && go vet ./cmd/...; fi

check: ## Validate every stack file (Pulumi.<stack>.yaml), the rules between them, prefect.yaml and the apply workflow against them
	$(BIN)/python -m infra.cli.check

list-config: ## Show what each stack puts on Prefect and Docker, by name
	$(BIN)/python -m infra.cli.list_config

status: ## Live view of STACK (default: every stack) from its Prefect API; exits 1 when stuck, drifted or a declared worker is offline, 2 when unreachable
	$(BIN)/python -m infra.cli.status $(if $(filter command line environment,$(origin STACK)),$(STACK)) $(STATUS_ARGS)

test: ## Run the test suite (real Prefect server; Docker tests need the engine and `make image`)
	$(BIN)/python -m pytest

bench: ## Benchmarks (not part of CI; about 50 min): the limiters on a SQLite and a PostgreSQL server, slot hand-over, fixed vs adaptive limits, Prefect's per-task cost, the providers' latency; results in bench-results/
	$(BIN)/python -m tests.bench.run
	$(MAKE) --no-print-directory bench-handover bench-adaptive bench-engine
	$(BIN)/python -m tests.bench.provider_latency

bench-handover: ## Slots changing hands with the default policy (3 rounds, about 12 min): one run alone, two on a limit of 10, six on a limit of 4, each beside a limiter-free baseline; bench-results/handover.json
	$(BIN)/python -m tests.bench.handover

bench-adaptive: ## Fixed 10, fixed 4 and adaptive limits while the demo ERP's capacity drops 10 -> 4 -> 10 (about 5 min); bench-results/adaptive.{json,png}
	$(BIN)/python -m tests.bench.adaptive

bench-engine: ## Prefect's per-task cost at 50 ms per item: a task per item vs chunks, no limiter vs concurrency() vs the runtime (about 9 min); bench-results/engine-overhead.json
	$(BIN)/python -m tests.bench.engine_overhead

loadtest: ## Load test STACK (default dev): rpa3 runs against a demo ERP enforcing its limits, through the stack's deployment when a worker of its pool is online, else locally; results in loadtest-results/ (LOADTEST_ARGS="--flow-runs 8 --items 100", "--step-up 2:16:2" or "--mode local")
	$(BIN)/python -m tools.loadtest --stack $(STACK) $(LOADTEST_ARGS)

# The second Docker host: a second engine on this machine (its own socket, roots and containerd; host
# networking only), which the load proof's and the two-host test's workers use; they start it when it is down.
loadproof: pulumi-cli image ## The load proof: TASKS (default 10000) rpa3 items in 3 flow runs through the rpa3 deployment, executed by workers on two Docker hosts, on a Prefect server on SQLite and on PostgreSQL (DATABASES=...), measured at a demo ERP enforcing the limits and in the results database; loadtest-results/loadproof-<db>-<time>.json
	RPA_LOADPROOF_TASKS=$(or $(TASKS),10000) RPA_LOADPROOF_DATABASES="$(or $(DATABASES),sqlite postgresql)" \
	  $(BIN)/python -m pytest tests/loadproof -p no:cacheprovider -s

deploy: check stack-file ## prefect deploy: the flows' deployments of STACK (default dev), to the stack's API
	api_url=$$($(BIN)/python -m infra.cli.list_config --api-url $(STACK)) && PREFECT_API_URL=$$api_url \
	  $(BIN)/prefect --no-prompt deploy --name rpa1/$(STACK) --name rpa2/$(STACK) --name rpa3/$(STACK)

run-%: ## Run a deployment, follow it, print its metrics and UI link: `make run-rpa3-dev PARAMS="item_count=20"`
	api_url=$$($(BIN)/python -m infra.cli.list_config --api-url $(lastword $(subst -, ,$*))) && \
	  PREFECT_API_URL=$$api_url $(BIN)/python -m operations.run_report $(subst -,/,$*) $(foreach p,$(PARAMS),--param $(p))

demo-erp: ## The demo ERP the flows call, on 127.0.0.1:8765 (foreground)
	$(BIN)/python -m tools.demo_erp --port 8765

image: ## Build the runtime image (flow runs and their Docker workers: extras flows, worker) locally, without a registry
	bash docker/build-images.sh

LOCAL_SERVER = $(BIN)/python -m local_prefect_server --host 127.0.0.1 --port $(or $(SERVER_PORT),4200)

server: ## Start the local Prefect server on 127.0.0.1:4200 unless one answers (state and server.log in .prefect-home/)
	@$(LOCAL_SERVER) start

server-stop: ## Stop the local Prefect server started by `make server`
	@$(LOCAL_SERVER) stop

# A stack with `rpa-platform:server:` brings its own Prefect server (PostgreSQL, containers `up` creates);
# the others use the embedded one (`make server`, SQLite), the default: it needs nothing but this repository.
local: docker-plugin image | $(LOCAL_STATE) ## The main job on the embedded defaults: local server (unless the stack brings its own), image, `up` for STACK with its worker containers
	@if grep -q '^ *rpa-platform:server:' Pulumi.$(STACK).yaml; then echo "local: $(STACK) brings its own Prefect server"; \
	  else $(MAKE) --no-print-directory server; fi
	$(MAKE) --no-print-directory up

# The local file backend's directory (the default backend); Pulumi does not create it.
$(LOCAL_STATE):
	mkdir -p $@

stack-file:
	@test -f Pulumi.$(STACK).yaml || { echo "No stack file Pulumi.$(STACK).yaml (stacks: $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml)))"; exit 1; }

pulumi-cli: ## The pinned Pulumi CLI in .build/bin: found on PATH, installed, or built from Go modules
	@bash tools/pulumi/ensure-cli.sh

docker-plugin: pulumi-cli ## pulumi-docker's plugin (worker containers) at the SDK's version: installed, downloaded, or built from Go modules
	@bash tools/pulumi/docker-plugin.sh

# --refresh: read what is really on the server first, so drift and objects deleted out of band are put back.
preview: docker-plugin stack-file check | $(LOCAL_STATE) ## pulumi preview for STACK (default dev), with the policy pack
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK) --policy-pack infra/policies --refresh --diff

up: docker-plugin stack-file check | $(LOCAL_STATE) ## pulumi up for STACK (default dev), with the policy pack
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK) --policy-pack infra/policies --refresh --yes

refresh: docker-plugin stack-file | $(LOCAL_STATE) ## pulumi refresh for STACK: show drift between the stack and what is really there
	pulumi refresh --stack $(STACK) --yes

destroy: docker-plugin stack-file | $(LOCAL_STATE) ## pulumi destroy for STACK
	pulumi destroy --stack $(STACK) --yes

# GitOps (docs/gitops.md): the stacks that `git diff BASE...HEAD` touches, previewed (a pull request's job) or
# applied in promotion order with deploy and status (a merge's job); the summary in .build/gitops/.
pr-preview: pulumi-cli | $(LOCAL_STATE) ## The pull request's job: check, then preview each stack the change since BASE touches; .build/gitops/pr-preview.md (BASE=<ref>)
	$(BIN)/python -m infra.cli.gitops pr-preview --base $(or $(BASE),$(error BASE=<ref> is required))

merge-apply: pulumi-cli | $(LOCAL_STATE) ## The merge's job: check, then up, deploy and status of each stack the change since BASE touches, dev -> staging -> prod; .build/gitops/merge-apply.md (BASE=<ref>, ONLY=<stack> for one)
	$(BIN)/python -m infra.cli.gitops merge-apply --base $(or $(BASE),$(error BASE=<ref> is required)) $(if $(ONLY),--only $(ONLY))
