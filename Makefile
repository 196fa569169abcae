# Local SRE Agent — build, test and check. `make help` lists the targets.
GO    ?= go
BIN   ?= bin
CMDS  := $(notdir $(wildcard cmd/*))

.PHONY: help build test test-nonroot check fmt vet staticcheck bench demo clean

help:
	@echo "make build         build $(CMDS) into $(BIN)/"
	@echo "make demo          build, then watch a process crash (no root needed)"
	@echo "make test          all tests with the race detector (unit, fixture, end-to-end)"
	@echo "make check         gofmt + go vet (amd64, arm64, arm, 386) + staticcheck + make test + the scripts as an ordinary user"
	@echo "make bench         benchmarks against the baselines (see bench/README.md)"

build:
	$(GO) build -o $(BIN)/ ./cmd/...

test:
	$(GO) test -race -count=1 ./...

# As root, run the unit tests and end-to-end scripts again as nobody: most users are not root.
test-nonroot:
	scripts/test-nonroot.sh

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# vet for the other Linux targets too: edge boxes are often arm64 or 32-bit arm,
# and a raw syscall that exists only on amd64 (poll, epoll_wait) fails there.
vet:
	$(GO) vet ./...
	for arch in arm64 arm 386; do GOARCH=$$arch $(GO) vet ./... || exit 1; done

staticcheck:
	$(GO) tool staticcheck ./...

check: fmt vet staticcheck test test-nonroot

bench: build
	bench/run-all.sh

demo: build
	scripts/demo.sh

clean:
	rm -rf $(BIN)
