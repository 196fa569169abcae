# Local SRE Agent — build, test and check. `make help` lists the targets.
GO    ?= go
BIN   ?= bin
CMDS  := $(notdir $(wildcard cmd/*))
# What --version prints: git describe of this clone (a tag, commits since, the
# commit, -dirty when edited), also where the go command stamps no VCS state
# (GOFLAGS=-buildvcs=false, a worktree). Outside a clone the tools fall back
# on the build info, then "devel". `make build VERSION=v1.2.3` sets it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := $(if $(VERSION),-X github.com/localsre/sre-agent/internal/cli.version=$(VERSION))

.PHONY: help build test test-nonroot check fmt vet staticcheck bench demo clean

help:
	@echo "make build         build $(CMDS) into $(BIN)/"
	@echo "make demo          build, then watch a process crash (no root needed)"
	@echo "make test          all tests with the race detector (unit, fixture, end-to-end)"
	@echo "make check         gofmt + go vet (amd64, arm64, arm, 386) + staticcheck + make test + the scripts as an ordinary user"
	@echo "make bench         benchmarks against the baselines (see bench/README.md)"

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

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
