# tellonce — build and test entry points.  `make` (or `make help`) lists them.
#
# Tests that need PostgreSQL get a throwaway cluster from scripts/with-postgres,
# which exports TELLONCE_TEST_POSTGRES; system packages (PostgreSQL, Chromium,
# fonts, SIPp) come from scripts/install-deps.  CI runs .ci/run, which calls
# `make lint` and `make test`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

# Go: prefer whatever is on PATH, fall back to the standard install location.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
GOBIN_DIR = $(or $(shell $(GO) env GOBIN),$(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin)

PKGS         ?= ./...
TESTFLAGS    ?=
TEST_TIMEOUT ?= 20m
TESTOUT      ?= test-output
DEPS         ?= postgres chromium sipp systemd
BENCH        ?= .
BENCHFLAGS   ?=
FUZZTIME     ?= 10s
ARGS         ?=
DRILL_KILLS  ?= 20
# the PostgreSQL restart drill's rounds (each: fast and immediate, one server and two)
DRILL_PG_RESTARTS ?= 5
# the takeover at scale: AGENTSxWAITING, and how many times its leader is killed
DRILL_SCALE  ?= 1000x10000
SCALE_KILLS  ?= 20
# the edge under load, measured alone: SIP-bridged calls, browser-bridged calls, seconds measured
VOICELOAD_CALLS   ?= 500
VOICELOAD_BROWSER ?= 200
VOICELOAD_SECONDS ?= 20
# staticcheck release 2026.2.2 is module version v0.8.2 (`@2026.2.2` is not a module version).
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK = $(GOBIN_DIR)/staticcheck

.PHONY: help build image run test test-short drill socket-drill e2e-load voiceload lint vet imports fmt-check staticcheck bench fuzz deps clean

help: ## show this list
	@echo "tellonce make targets:"
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-11s %s\n", $$1, $$2}'
	@echo "variables: TESTFLAGS=... (e.g. -run=Foo -v)  PKGS=./internal/...  ARGS=... (run)"
	@echo "           FUZZTIME=10s  BENCH=.  BENCHFLAGS=-count=5  DEPS=\"postgres chromium sipp systemd\""
	@echo "           drill: DRILL_KILLS=20  DRILL_PG_RESTARTS=5  DRILL_SCALE=1000x10000  SCALE_KILLS=20"
	@echo "           voiceload: VOICELOAD_CALLS=500  VOICELOAD_BROWSER=200  VOICELOAD_SECONDS=20"

build: ## go build -o bin/tellonce ./cmd/tellonce
	$(GO) build -o bin/tellonce ./cmd/tellonce

# The first container tool found builds the image (Dockerfile, compose.yaml).
CONTAINER ?= $(shell command -v docker || command -v podman)
IMAGE     ?= tellonce:latest
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

image: ## build the container image IMAGE (default tellonce:latest) with docker or podman
	@if [ -z "$(CONTAINER)" ]; then echo "image: no docker or podman found"; exit 1; fi
	$(CONTAINER) build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

run: build ## build and run bin/tellonce serve --demo (embedded SQLite; ARGS=... appends flags)
	./bin/tellonce serve --demo $(ARGS)

deps: ## install missing system packages (PostgreSQL, Chromium, CJK fonts, SIPp; root)
	scripts/install-deps $(DEPS)

test: ## full suite: race detector, real PostgreSQL (scripts/with-postgres)
	@scripts/install-deps $(DEPS)
	@mkdir -p $(TESTOUT)
	@start=$$SECONDS; rc=0; \
	scripts/with-postgres $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) $(PKGS) 2>&1 \
		| tee $(TESTOUT)/test.log || rc=$$?; \
	log=$(TESTOUT)/test.log; \
	ok=$$(grep -cE '^ok[[:space:]]' $$log || true); \
	failpk=$$(grep -cE '^FAIL[[:space:]]+[^[:space:]]+' $$log || true); \
	failtests=$$(grep -cE '^[[:space:]]*--- FAIL:' $$log || true); \
	none=$$(grep -cE '^\?[[:space:]].*\[no test files\]' $$log || true); \
	if [ $$rc -eq 0 ]; then verdict=PASS; else verdict="FAILED (exit $$rc)"; fi; \
	echo "make test: $$verdict in $$((SECONDS - start))s; packages ok: $$ok, packages failed: $$failpk, failed tests: $$failtests, packages without tests: $$none; log: $$log"; \
	exit $$rc

test-short: ## go test -race, no cluster: PostgreSQL runs skip unless TELLONCE_TEST_POSTGRES is set
	env -u CI $(GO) test -race $(TESTFLAGS) $(PKGS)

lint: vet fmt-check staticcheck imports ## go vet + gofmt + staticcheck + the import table of docs/architecture.md

vet:
	$(GO) vet $(PKGS)

# A new import arrow between our packages fails here until docs/architecture.md allows it.
imports:
	$(GO) test -count=1 -run '^(TestImportsFollowTheArchitecture|TestAdaptersReachTheRouterOnlyThroughTheSwitchboard)$$' ./cmd/tellonce/

fmt-check:
	@files=$$(find . -type f -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' \
		-not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$files"; exit 1; fi; \
	echo "gofmt: ok"

staticcheck:
	@if ! "$(STATICCHECK)" -version 2>/dev/null | grep -qF "($(STATICCHECK_VERSION:v%=%))"; then \
		echo "installing staticcheck@$(STATICCHECK_VERSION) into $(GOBIN_DIR)"; \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi
	"$(STATICCHECK)" $(PKGS)

bench: ## benchmarks against real PostgreSQL (BENCH=regexp, BENCHFLAGS=-count=5)
	@scripts/install-deps postgres
	@mkdir -p $(TESTOUT)
	scripts/with-postgres $(GO) test -run='^$$' -bench='$(BENCH)' -benchmem $(BENCHFLAGS) $(PKGS) 2>&1 \
		| tee $(TESTOUT)/bench.txt

fuzz: ## run every Fuzz target for FUZZTIME (default 10s) each
	@mkdir -p $(TESTOUT)
	@$(GO) test -list '^Fuzz' $(PKGS) > $(TESTOUT)/fuzz-list.txt
	@awk '/^Fuzz/ {names[n++] = $$1; next} \
		/^ok[ \t]/ {for (i = 0; i < n; i++) print $$2, names[i]} \
		{n = 0}' $(TESTOUT)/fuzz-list.txt > $(TESTOUT)/fuzz-targets.txt
	@if [ ! -s $(TESTOUT)/fuzz-targets.txt ]; then echo "fuzz: no Fuzz targets in $(PKGS)"; exit 0; fi; \
	total=$$(wc -l < $(TESTOUT)/fuzz-targets.txt); i=0; failed=(); \
	while read -r pkg name; do \
		i=$$((i + 1)); echo "== fuzz [$$i/$$total] $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) "$$pkg" < /dev/null || failed+=("$$pkg.$$name"); \
	done < $(TESTOUT)/fuzz-targets.txt; \
	if [ $${#failed[@]} -gt 0 ]; then \
		echo "fuzz: $${#failed[@]} of $$total target(s) FAILED: $${failed[*]} (inputs saved under <pkg>/testdata/fuzz/)"; exit 1; \
	fi; \
	echo "fuzz: $$total target(s) ran for $(FUZZTIME) each, no failures"

clean: ## remove bin/ and test output
	rm -rf bin $(TESTOUT)

socket-drill: build ## 10,000 agent and as many citizen sockets as the open-file limit allows on one server (scripts/socket-drill; AGENTS=, CITIZENS=, CONTACTS=, RATE=)
	scripts/socket-drill

e2e-load: build ## creation → offer from outside the server, 1,000 agents, per rate and backend: p50/p99/max, server CPU per contact and the server's stages (scripts/e2e-load; BACKEND=, RATES=, CONTACTS=)
	scripts/e2e-load

drill: ## long fault drills: leader kills (DRILL_KILLS=20), SIGTERM, SIGSTOP, database cut, PostgreSQL restarts, a takeover at DRILL_SCALE=1000x10000; weekday-8 against Erlang
	@scripts/install-deps postgres
	@mkdir -p $(TESTOUT)
	TELLONCE_DRILL_KILLS=$(DRILL_KILLS) TELLONCE_PG_RESTARTS=$(DRILL_PG_RESTARTS) \
	TELLONCE_DRILL_SCALE=$(DRILL_SCALE) TELLONCE_SCALE_KILLS=$(SCALE_KILLS) \
	scripts/with-postgres $(GO) test -count=1 -timeout 60m -v \
		-run '^(TestFailoverDrill|TestEmbeddedKillRestartDrill|TestPostgresRestartDrill|TestTakeoverAtScale)$$' ./cmd/tellonce/ 2>&1 \
		| tee $(TESTOUT)/drill.log
	$(GO) test -tags long -count=1 -timeout 30m -run '^TestWeekday8SeparateCentresAgreeWithErlang$$' ./simulation/ 2>&1 | tee -a $(TESTOUT)/drill.log

voiceload: ## the edge as its own process under VOICELOAD_CALLS SIP and VOICELOAD_BROWSER browser calls: delay, loss, CPU and memory per call, CPU profiles in TESTOUT
	@mkdir -p $(TESTOUT)
	TELLONCE_EDGE_LOAD=$(VOICELOAD_CALLS) TELLONCE_EDGE_LOAD_SECONDS=$(VOICELOAD_SECONDS) TELLONCE_EDGE_LOAD_PROFILE=$(abspath $(TESTOUT))/edge-sip.pprof \
	$(GO) test -count=1 -timeout 30m -v -run '^TestEdgeLoadSIP$$' ./cmd/tellonce/ 2>&1 | grep -v 'level=INFO\| INFO ' | tee $(TESTOUT)/voiceload.log
	TELLONCE_EDGE_LOAD_BROWSER=$(VOICELOAD_BROWSER) TELLONCE_EDGE_LOAD_SECONDS=$(VOICELOAD_SECONDS) TELLONCE_EDGE_LOAD_PROFILE=$(abspath $(TESTOUT))/edge-browser.pprof \
	$(GO) test -count=1 -timeout 30m -v -run '^TestEdgeLoadBrowser$$' ./cmd/tellonce/ 2>&1 | grep -v 'level=INFO\| INFO ' | tee -a $(TESTOUT)/voiceload.log
