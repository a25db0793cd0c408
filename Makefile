# settlewatch — the usual targets. `make run` is the README's main job and
# `make test` its test command.
GO ?= go
BIN := bin

.PHONY: all build test test-go lint vet staticcheck bench run stop fmt clean

all: build

build:
	$(GO) build -o $(BIN)/settlewatch ./cmd/settlewatch
	$(GO) build -o $(BIN)/settlewatch-collector ./collector/cmd/settlewatch-collector
	$(GO) build -o $(BIN)/settlewatch-sim ./cmd/settlewatch-sim
	$(GO) build -o $(BIN)/settlewatch-chserver ./cmd/settlewatch-chserver

# Installs ClickHouse if missing, starts a private server, runs lint and all tests.
test:
	scripts/test.sh

# Go tests only, against a server you started (SETTLEWATCH_TEST_CH_ADDR) or
# one each test binary starts itself.
test-go:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /node_modules/)

lint: vet staticcheck

vet:
	$(GO) vet $$($(GO) list ./... | grep -v /node_modules/)

staticcheck:
	@command -v staticcheck >/dev/null || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	staticcheck $$($(GO) list ./... | grep -v /node_modules/)

# Micro-benchmarks of the hot paths (no server needed).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./panmask ./domain ./collector/paymentprocessor ./collector/clickhouseexporter ./collector/spoolstorage ./grafana-plugin/pkg/plugin

run:
	deploy/local/run.sh

stop:
	deploy/local/stop.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
