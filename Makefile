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

# make install: the FHS places under PREFIX, staged under DESTDIR (for a
# package build), as the GNU conventions name them. The completions' places
# may be moved one by one (Debian's zsh reads /usr/share/zsh/vendor-completions,
# not /usr/share/zsh/site-functions: ZSHCOMPDIR=... with PREFIX=/usr there).
PREFIX      ?= /usr/local
DESTDIR     ?=
SYSCONFDIR  ?= /etc
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= $(PREFIX)/lib/systemd/system
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
DOCDIR      ?= $(PREFIX)/share/doc/sre-agent
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# What is installed, from the tree as it is: uninstall recomputes the same lists.
UNITS       := $(wildcard deploy/systemd/*.service deploy/systemd/*.socket deploy/systemd/*.timer)
USERUNITS   := $(wildcard deploy/systemd/user/*.service deploy/systemd/user/*.socket deploy/systemd/user/*.timer)
EXAMPLES    := $(wildcard deploy/systemd/*.yaml deploy/kubernetes/*.yaml)
DOCS        := $(wildcard docs/*.md docs/*.png)
# The binaries install builds when a source is newer than them (not always,
# as build does): `make build`, then `sudo make install` builds nothing as
# root, and needs no go command on root's PATH.
BINS        := $(addprefix $(BIN)/,$(CMDS))
GOSRC       := go.mod go.sum $(shell find cmd internal -type f ! -name '*_test.go' ! -path '*/testdata/*' 2>/dev/null)

.PHONY: help build test test-systemd test-nonroot kube-plane check fmt vet staticcheck bench demo clean install uninstall install-config

help:
	@echo "make build         build $(CMDS) into $(BIN)/"
	@echo "make demo          build, then watch a process crash (no root needed)"
	@echo "make test          all tests with the race detector (unit, fixture, end-to-end)"
	@echo "make test-systemd  the service under a real systemd in a container (needs DOCKER_HOST and scripts/systemd-test-image.sh)"
	@echo "make kube-plane    build the tests' Kubernetes control plane into /var/cache/sre-agent (cold 10-25 min; then eval \"\$$(scripts/kube-test.sh)\")"
	@echo "make check         gofmt + go vet (amd64, arm64, arm, 386) + staticcheck + make test + test-systemd + the scripts as an ordinary user"
	@echo "make bench         benchmarks against the baselines (see bench/README.md)"
	@echo "make install       binaries, systemd units, completions, docs under PREFIX=$(PREFIX) (DESTDIR= to stage; docs/install.md)"
	@echo "make uninstall     remove what make install put there"
	@echo "make install-config NAME=demo   the example config as $(SYSCONFDIR)/sre-agent/NAME.yaml (never overwritten)"

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

test:
	$(GO) test -race -count=1 ./...

# The service under a real systemd (a container on DOCKER_HOST's daemon, its
# image from scripts/systemd-test-image.sh), alone: while such a container
# runs, the daemon misses its other containers' OOM kills, which other
# tests check (internal/service/systemdtest).
test-systemd:
	SRE_SYSTEMD_TESTS=1 $(GO) test -race -count=1 ./internal/service/systemdtest
	SRE_SYSTEMD_TESTS=1 $(GO) test -race -count=1 -run 'TestServiceInSystemd' .

# As root, run the unit tests and end-to-end scripts again as nobody: most users are not root.
test-nonroot:
	scripts/test-nonroot.sh

# The tests' Kubernetes control plane (kube-apiserver, kube-controller-manager,
# etcd) from the Go module proxy, cached outside the clone; start it with
# eval "$(scripts/kube-test.sh)".
kube-plane:
	scripts/kube-test.sh build

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

check: fmt vet staticcheck test test-systemd test-nonroot

bench: build
	bench/run-all.sh

demo: build
	scripts/demo.sh

clean:
	rm -rf $(BIN)

$(BINS) &: $(GOSRC)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# PREFIX goes into every path, BINDIR into the units (sed): absolute, and plain.
check-prefix = for v in "PREFIX=$(PREFIX)" "BINDIR=$(BINDIR)"; do \
	case "$${v\#*=}" in /*) case "$${v\#*=}" in *[!A-Za-z0-9/._+-]*) false;; esac ;; *) false ;; esac || \
	{ echo "make: $$v: want an absolute path of letters, digits and / . _ + -" >&2; exit 2; }; done

# Units say /usr/local/bin/sre-agent; installed, they say $(BINDIR)/sre-agent.
install: $(BINS)
	@$(check-prefix)
	@set -e; \
	for c in $(CMDS); do \
		install -D -m 755 "$(BIN)/$$c" "$(DESTDIR)$(BINDIR)/$$c"; \
	done; \
	for u in $(UNITS); do \
		install -d "$(DESTDIR)$(UNITDIR)"; \
		sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/doc/sre-agent/|$(DOCDIR)/|g' "$$u" > "$(DESTDIR)$(UNITDIR)/$${u##*/}"; \
		chmod 644 "$(DESTDIR)$(UNITDIR)/$${u##*/}"; \
	done; \
	for u in $(USERUNITS); do \
		install -d "$(DESTDIR)$(USERUNITDIR)"; \
		sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/doc/sre-agent/|$(DOCDIR)/|g' "$$u" > "$(DESTDIR)$(USERUNITDIR)/$${u##*/}"; \
		chmod 644 "$(DESTDIR)$(USERUNITDIR)/$${u##*/}"; \
	done; \
	for e in $(EXAMPLES); do install -D -m 644 "$$e" "$(DESTDIR)$(DOCDIR)/examples/$${e##*/}"; done; \
	install -D -m 644 README.md "$(DESTDIR)$(DOCDIR)/README.md"; \
	for d in $(DOCS); do install -D -m 644 "$$d" "$(DESTDIR)$(DOCDIR)/$$d"; done; \
	install -d "$(DESTDIR)$(BASHCOMPDIR)" "$(DESTDIR)$(ZSHCOMPDIR)" "$(DESTDIR)$(FISHCOMPDIR)"; \
	for c in $(CMDS); do \
		"$(BIN)/$$c" --completion bash > "$(DESTDIR)$(BASHCOMPDIR)/$$c"; \
		"$(BIN)/$$c" --completion zsh > "$(DESTDIR)$(ZSHCOMPDIR)/_$$c"; \
		"$(BIN)/$$c" --completion fish > "$(DESTDIR)$(FISHCOMPDIR)/$$c.fish"; \
		chmod 644 "$(DESTDIR)$(BASHCOMPDIR)/$$c" "$(DESTDIR)$(ZSHCOMPDIR)/_$$c" "$(DESTDIR)$(FISHCOMPDIR)/$$c.fish"; \
	done; \
	echo "installed $(CMDS) under $(DESTDIR)$(PREFIX)"

# Exactly what install put, from the same lists; then the directories that
# are the agent's own, when empty. Shared ones (bin, the completion and unit
# directories) stay. Configs under $(SYSCONFDIR) are the admin's: they stay.
uninstall:
	@$(check-prefix)
	@set -e; \
	for c in $(CMDS); do \
		rm -f "$(DESTDIR)$(BINDIR)/$$c" "$(DESTDIR)$(BASHCOMPDIR)/$$c" \
			"$(DESTDIR)$(ZSHCOMPDIR)/_$$c" "$(DESTDIR)$(FISHCOMPDIR)/$$c.fish"; \
	done; \
	for u in $(UNITS); do rm -f "$(DESTDIR)$(UNITDIR)/$${u##*/}"; done; \
	for u in $(USERUNITS); do rm -f "$(DESTDIR)$(USERUNITDIR)/$${u##*/}"; done; \
	for e in $(EXAMPLES); do rm -f "$(DESTDIR)$(DOCDIR)/examples/$${e##*/}"; done; \
	rm -f "$(DESTDIR)$(DOCDIR)/README.md"; \
	for d in $(DOCS); do rm -f "$(DESTDIR)$(DOCDIR)/$$d"; done; \
	for d in examples docs; do \
		if [ -d "$(DESTDIR)$(DOCDIR)/$$d" ]; then rmdir --ignore-fail-on-non-empty "$(DESTDIR)$(DOCDIR)/$$d"; fi; \
	done; \
	if [ -d "$(DESTDIR)$(DOCDIR)" ]; then rmdir --ignore-fail-on-non-empty "$(DESTDIR)$(DOCDIR)"; fi; \
	echo "removed $(CMDS) from $(DESTDIR)$(PREFIX)"

# A watch's config where the system unit sre-agent@NAME reads it. Apart from
# install, as Debian keeps /etc apart: an admin's edited file is never
# overwritten, and uninstall leaves it.
install-config:
	@case "$(NAME)" in ""|*[!A-Za-z0-9_.-]*|.*) \
		echo "make install-config: NAME=$(NAME): want a watch name of letters, digits and _ . - (the NAME of sre-agent@NAME)" >&2; exit 2;; esac
	@test -n "$(EXAMPLES)" || { echo "make install-config: no example config in deploy/systemd/" >&2; exit 1; }
	@if [ -e "$(DESTDIR)$(SYSCONFDIR)/sre-agent/$(NAME).yaml" ]; then \
		echo "make install-config: $(DESTDIR)$(SYSCONFDIR)/sre-agent/$(NAME).yaml exists: not overwritten" >&2; exit 1; fi
	install -D -m 644 $(firstword $(EXAMPLES)) "$(DESTDIR)$(SYSCONFDIR)/sre-agent/$(NAME).yaml"
