# Tether — build, test, cross-compile, benchmark, fuzz.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/tether-edge/tether/central/server.Version=$(VERSION) -X main.version=$(VERSION)
BUILD   := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
FUZZTIME ?= 20s

.PHONY: build dev test test-unit test-e2e cross bench fuzz clean

build:
	$(BUILD) -o bin/central ./cmd/central
	$(BUILD) -o bin/agent ./cmd/agent

# The first command of the README: central dev with the example job.
dev: build
	./bin/central dev -job examples/hello.hcl

# Everything: unit tests with the race detector (fuzz seed corpora run as
# tests), integration tests against the embedded broker, and the end-to-end
# tests in test/ that start real binaries, Mosquitto and processes.
test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

test-unit:
	$(GO) test -race -count=1 -short ./...

test-e2e: build
	$(GO) test -count=1 -v -timeout 15m ./test/...

# Agents for every board: armv6 (Pi Zero/1), armv7 (Pi 2/3), arm64, amd64.
cross:
	GOOS=linux GOARCH=arm GOARM=6 $(BUILD) -o dist/agent-linux-armv6 ./cmd/agent
	GOOS=linux GOARCH=arm GOARM=7 $(BUILD) -o dist/agent-linux-armv7 ./cmd/agent
	GOOS=linux GOARCH=arm64 $(BUILD) -o dist/agent-linux-arm64 ./cmd/agent
	GOOS=linux GOARCH=amd64 $(BUILD) -o dist/agent-linux-amd64 ./cmd/agent
	@ls -l dist/

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./central/scheduler/ ./central/state/ ./central/server/
	$(GO) run ./bench/e2e -central bin/central -agent bin/agent

# Run every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin dist
