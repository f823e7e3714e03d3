# Two commands: `make run` serves the API on a PostgreSQL it finds or starts; `make test`
# proves it. scripts/with-postgres finds the server (DATABASE_URL, then 127.0.0.1:5432, then a
# project-local cluster in .data/) and exports the connection URLs to the command it runs.

SHELL := bash
.DEFAULT_GOAL := help

BIN         := bin/server
DEV_DB      := usersvc_dev
DEV_CONFIG  := configs/dev.yaml
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GO_TEST_FLAGS ?= -count=1 -race -timeout 20m

PROFILE     ?= full

FUZZTIME     ?= 60s

STRESS_PKG   ?= ./tests/faults/restart/
STRESS_TEST  ?= TestEveryBackendTerminatedDuringLoad
STRESS_COUNT ?= 50

.PHONY: help run build test test-pgbouncer test-faults fuzz stress perf perf-tools lint docs module events migrate-up migrate-down migrate-status db-stop cluster-up cluster-down cluster-status clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

build: ## build the binary into bin/server
	go build -o $(BIN) ./cmd/server

run: build ## serve the API on http://127.0.0.1:8080 (dev token: dev-token-change-me)
	scripts/with-postgres --db $(DEV_DB) -- $(BIN) --config $(DEV_CONFIG) serve

test: ## unit, integration and fault-injection tests against a real PostgreSQL (a fresh database per package)
	scripts/with-postgres -- go test $(GO_TEST_FLAGS) ./...

test-pgbouncer: ## the integration suite with the service behind PgBouncer in transaction mode (database.pooler; installs pgbouncer)
	scripts/with-postgres -- scripts/pgbouncer run -- go test $(GO_TEST_FLAGS) ./tests/integration/... ./tests/testapp/...

test-faults: ## only the fault-injection tests (part of make test): own PostgreSQL cluster + TCP proxy
	go test $(GO_TEST_FLAGS) ./tests/faults/...

fuzz: ## run every Go fuzz target (func Fuzz… in any package) for FUZZTIME each (default 60s; FUZZ=regexp picks targets); no PostgreSQL needed
	FUZZTIME='$(FUZZTIME)' scripts/fuzz '$(FUZZ)'

stress: ## run one test STRESS_COUNT times while the whole suite loops alongside; fails if anything failed (STRESS_TEST, STRESS_PKG)
	scripts/with-postgres -- scripts/stress-under-load '$(STRESS_PKG)' '$(STRESS_TEST)' $(STRESS_COUNT)

perf: build perf-tools ## performance suites vs raw pgx, pgbench and wrk; report in perf/results/ (PROFILE=quick|full, SUITES=01,06)
	scripts/with-postgres -- go run ./tests/performance/cmd/perf -profile $(PROFILE) -server-bin $(BIN) -out perf/results

perf-tools: ## install what make perf needs besides Go and PostgreSQL: pgbench and wrk (Debian packages postgresql, wrk)
	scripts/perf-tools

module: ## generate a module: make module NAME=widgets (plural; SINGULAR=… unless NAME less its final s)
	@test -n "$(NAME)" || { echo "make module: give NAME=… (plural, lowercase), e.g. make module NAME=widgets" >&2; exit 2; }
	go run ./tools/newmodule -name '$(NAME)' $(if $(SINGULAR),-singular '$(SINGULAR)')
	$(MAKE) docs

docs: ## regenerate docs/modules.md, the module map (a test fails when it is stale)
	go run ./cmd/server modules > docs/modules.md

lint: ## gofmt, go vet and staticcheck
	@unformatted=$$(gofmt -l .); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

migrate-up: build ## apply pending migrations to the dev database (ARGS="--to ID")
	scripts/with-postgres --db $(DEV_DB) -- $(BIN) --config $(DEV_CONFIG) migrate up $(ARGS)

migrate-down: build ## roll back the last migration of the dev database (ARGS="--to ID" or "--all")
	scripts/with-postgres --db $(DEV_DB) -- $(BIN) --config $(DEV_CONFIG) migrate down $(ARGS)

migrate-status: build ## list the dev database's migrations
	scripts/with-postgres --db $(DEV_DB) -- $(BIN) --config $(DEV_CONFIG) migrate status

events: build ## module events of the dev database: ARGS="list [--state pending|dead|all]" or ARGS="retry JOB_ID… | --dead"
	scripts/with-postgres --db $(DEV_DB) -- $(BIN) --config $(DEV_CONFIG) events $(ARGS)

db-stop: ## stop the project-local PostgreSQL cluster, if one was started
	scripts/with-postgres stop

cluster-up: ## start a primary, its streaming standby and PgBouncer in .data/cluster (ARGS="--async", "--sync=remote_apply", "--base-port N")
	scripts/cluster up $(ARGS)

cluster-down: ## stop the replicated cluster (data kept; scripts/cluster destroy deletes it)
	scripts/cluster down $(ARGS)

cluster-status: ## each cluster member: running, role, replication state and lag
	scripts/cluster status $(ARGS)

clean: ## remove build output (not the local cluster's data in .data/)
	rm -rf bin
