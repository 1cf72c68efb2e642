# campaignd — a bare `make` lists the targets.
GO ?= go
BIN := bin/campaignd
NPM_FLAGS := --no-audit --no-fund --loglevel=error
# The version -version prints and campaignd_build_info carries (go build's own VCS stamp may be off).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)

.DEFAULT_GOAL := help

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/campaignd and bin/campaignbench
	$(GO) build -ldflags="-X main.version=$(VERSION)" -o $(BIN) ./cmd/campaignd
	$(GO) build -o bin/campaignbench ./cmd/campaignbench

# make run's addresses and data directory: override on the command line (make run HTTP_ADDR=127.0.0.1:4000).
HTTP_ADDR ?= 127.0.0.1:3030
KAFKA_ADDR ?= 127.0.0.1:9092
DATA_DIR ?= ./campaignd-data

run: build ## build and start campaignd with -dev credentials on HTTP_ADDR, data in DATA_DIR, a development Kafka broker on KAFKA_ADDR (RUN_FLAGS: more flags)
	./$(BIN) -dev -httpListenAddr=$(HTTP_ADDR) -storageDataPath=$(DATA_DIR) -kafka.embedded -kafka.embeddedAddr=$(KAFKA_ADDR) $(RUN_FLAGS)

test: test-go test-sdk test-e2e ## run every test: Go tests, the stream-chat SDK suite, the dashboard in headless Chromium

test-go: ## run the Go tests (unit, integration, fuzz seed corpora)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout=30m ./...

test-sdk: build ## run the stream-chat npm SDK suite against a real campaignd
	cd sdk && npm ci $(NPM_FLAGS) && CAMPAIGND_BIN=$(abspath $(BIN)) node --test

test-e2e: build ## run the dashboard test in a headless Chromium (Debian's chromium, playwright-core from e2e/package-lock.json); screenshot in e2e/output/
	cd e2e && npm ci $(NPM_FLAGS) && CAMPAIGND_BIN=$(abspath $(BIN)) node --test

bench: ## run every Go benchmark at full size (1,000,000 users and recipients): 15 minutes or more on 2 cores
	@echo "make bench: every benchmark at 1,000,000 users/recipients; expect 15 minutes or more on 2 cores (make bench-quick: about 2-3 minutes)"
	$(GO) test -run='^$$' -bench=. -benchmem -timeout=90m ./...

bench-quick: ## about 2-3 minutes: the micro-benchmarks once each, the campaign and storage-limit workloads at 20,000 recipients (a smoke test, not figures)
	$(GO) test -run='^$$' -bench=. -benchtime=1x -benchmem $$($(GO) list ./... | grep -v '/bench$$')
	BENCH_CAMPAIGN_RECIPIENTS=20000 $(GO) test -run='^$$' -bench='^Benchmark(Campaign|StorageLimit)$$' -benchtime=1x -benchmem ./bench

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list='^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$${FUZZTIME:-30s} $$pkg || exit 1; \
	  done; \
	done

clean: ## remove build output (not ./campaignd-data)
	rm -rf bin sdk/node_modules e2e/node_modules e2e/output

.PHONY: help build run test test-go test-sdk test-e2e bench bench-quick fuzz clean
