# Tether — build, test, cross-compile, benchmark, fuzz.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell git log -1 --format=%cd --date=format:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/tether-edge/tether/central/server.Version=$(VERSION) -X main.version=$(VERSION) \
  -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)
BUILD   := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
FUZZTIME ?= 20s
# One worker per target: the build machines have 2 shared cores.
FUZZFLAGS ?= -parallel 1


.PHONY: build dev demo-edge test test-unit test-e2e cross dist size bench fleet fuzz clean

build:
	$(BUILD) -o bin/central ./cmd/central
	$(BUILD) -o bin/agent ./cmd/agent

# The edge tutorial, replayed on this machine (docs/tutorial.md): builds
# the edge shop (examples/edge-shop/), makes the primary and edge sites in
# network namespaces (needs root), and walks a person through the
# tutorial's steps with timings. The same test runs in `make test`.
demo-edge: build
	examples/edge-shop/build.sh
	TETHER_DEMO=1 $(GO) test -count=1 -v -run '^TestTutorialReplay$$' -timeout 10m ./test/

# The first command of the README: central dev with the example job.
dev: build
	./bin/central dev -job examples/hello.hcl

# Everything: unit tests with the race detector (fuzz seed corpora run as
# tests), integration tests against the embedded broker, and the end-to-end
# tests in test/ that start real binaries, Mosquitto and processes.
# Tests that cannot run on a host take a named exception
# (internal/testhost.Known); they are counted and listed at the end.
EXCEPTIONS := $(CURDIR)/.test-exceptions
# TestDocsRun writes here how many shell blocks of each docs page it ran
# (docs/contributing.md#commands-in-docs-run).
DOCBLOCKS := $(CURDIR)/.test-docblocks
test: build
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@rm -f $(EXCEPTIONS) $(DOCBLOCKS)
	@TETHER_TEST_EXCEPTIONS=$(EXCEPTIONS) TETHER_DOC_BLOCKS=$(DOCBLOCKS) $(GO) test -race -count=1 -timeout 30m ./...; rc=$$?; \
	  [ ! -f $(DOCBLOCKS) ] || cat $(DOCBLOCKS); \
	  n=0; [ -f $(EXCEPTIONS) ] && n=$$(wc -l < $(EXCEPTIONS)); \
	  echo "== $$n explicit host exception(s) (internal/testhost.Known)"; \
	  [ $$n -eq 0 ] || sed 's/^/   /' $(EXCEPTIONS); \
	  exit $$rc

test-unit:
	$(GO) test -race -count=1 -short ./...

test-e2e: build
	$(GO) test -count=1 -v -timeout 30m ./test/...

# Agents for every board (boards/*/board.json): armv6 (Pi Zero/1), armv7
# (Pi 2/3), arm64 (Pi 4/5, arm64 gateways), amd64 (x86 gateways). Static,
# stripped, version stamped (agent -version).
CROSS := linux/arm/6 linux/arm/7 linux/arm64 linux/amd64
cross:
	@mkdir -p dist
	@for t in $(CROSS); do \
	  os=$${t%%/*}; rest=$${t#*/}; arch=$${rest%%/*}; arm=; name=$$arch; \
	  case $$rest in */*) arm=$${rest#*/}; name=armv$$arm;; esac; \
	  echo "GOOS=$$os GOARCH=$$arch GOARM=$$arm -> dist/agent-$$os-$$name"; \
	  GOOS=$$os GOARCH=$$arch GOARM=$$arm $(BUILD) -o dist/agent-$$os-$$name ./cmd/agent || exit 1; \
	done
	@ls -l dist/agent-*

# Release artifacts: one tarball per target (the agent binary, every board
# folder, docs/boards.md) and SHA256SUMS over binaries and tarballs.
dist: cross
	@set -e; cd dist; rm -f SHA256SUMS tether-agent-*.tar.gz; \
	for f in agent-linux-*; do \
	  t=$${f#agent-}; stage=tether-agent-$(VERSION)-$$t; rm -rf $$stage; mkdir -p $$stage/boards; \
	  cp $$f $$stage/agent; cp ../docs/boards.md $$stage/; \
	  for d in ../boards/*/; do mkdir -p $$stage/boards/$$(basename $$d); cp $$d/board.json $$d/*.tmpl $$d/*.service $$d/README.md $$stage/boards/$$(basename $$d)/; done; \
	  tar --owner=0 --group=0 --mtime='@0' --sort=name -czf $$stage.tar.gz $$stage; rm -rf $$stage; \
	done; \
	sha256sum agent-linux-* tether-agent-*.tar.gz > SHA256SUMS; cat SHA256SUMS

# Footprint table: stripped size per target and per package, idle RSS,
# heartbeat bytes on the wire (see bench/README.md).
size: build cross
	$(GO) run ./bench/size -dist dist -central bin/central -agent bin/agent

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./central/scheduler/ ./central/state/ ./central/server/
	$(GO) run ./bench/e2e -central bin/central -agent bin/agent

# The fleet sweep (docs/scale.md): for the embedded broker and Mosquitto,
# a 3-server central in separate processes and 1,000 / 5,000 / 10,000
# simulated agents in another (bench/fleet); results in
# bench/fleet/results.json, chart docs/scale.svg, table on stdout. About
# 25 minutes on 2 cores. The open-file limit is raised for 10,000 agents.
FLEET_AGENTS ?= 1000,5000,10000
FLEET_BROKERS ?= embedded,mosquitto
fleet: build
	ulimit -n 200000 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	$(GO) run ./bench/fleet -sweep -central-bin bin/central -agents $(FLEET_AGENTS) -brokers $(FLEET_BROKERS)

# Run every fuzz target for FUZZTIME each (docs/fuzzing.md), e.g.
# make fuzz FUZZTIME=2m.
# Every target runs even when one fails (the failures are listed at the
# end and make fails), so one run gives the whole table.
fuzz:
	@failed=; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $$pkg || failed="$$failed $$pkg.$$f"; \
	  done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz targets that failed:$$failed"; exit 1; fi

clean:
	rm -rf bin dist
