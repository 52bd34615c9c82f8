SHELL := /bin/bash
# raftvip — build, test and demo. `make test` and `make demo` need root on Debian.
GO       ?= go
BIN      := bin/raftvip
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/raftvip/raftvip/cluster.Version=$(VERSION)
DEB_PKGS := haproxy keepalived nftables iproute2 systemd
E2E_TIMEOUT ?= 25m

.PHONY: all build test unit e2e deps demo bench soak figures figures-membership figures-vrrp fmt vet clean deb

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/raftvip

# deps installs the Debian packages the lab needs, only those missing.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# unit runs every package's tests under the race detector, then the simulation of the
# ownership protocol with its 5,000 seeds and mutations without it (ten times faster).
unit:
	$(GO) test -count=1 -race $$($(GO) list ./... | grep -v /test)
	$(GO) test -count=1 -run 'TestSimulation' ./election/

e2e: build
	RAFTVIP_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -p 1 -timeout $(E2E_TIMEOUT) -v ./test/ 2>&1 | tee /tmp/raftvip-e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok)|_test.go'; exit $${PIPESTATUS[0]}

test: deps vet unit e2e

demo: deps build
	RAFTVIP_BIN=$(CURDIR)/$(BIN) $(GO) run ./test/demo

# bench runs raftvip (lan, fast, active-active: three groups, and the pair with its
# witness on lan and fast) and keepalived (VRRPv2 1 s, VRRPv3 0.1 s, one vrrp_instance per
# group, and the two-node pair on v2 and v3) through the same faults in one lab run and
# writes docs/benchmarks.md, docs/benchmarks.json and docs/bench/*.png (about 75 min on
# 2 cores). TRIALS=n per system and scenario (default 10).
bench: deps build
	RAFTVIP_BIN=$(CURDIR)/$(BIN) $(GO) run ./test/bench -trials $${TRIALS:-10}

# soak injects random faults for SOAK (default 10m; SEED=n replays a run) and checks
# the promises; it writes docs/soak.md.
soak: deps build
	RAFTVIP_BIN=$(CURDIR)/$(BIN) $(GO) run ./test/soak -out docs/soak.md

# figures measures failover gaps over repeated trials and writes docs/failover.md.
figures: deps build
	RAFTVIP_BIN=$(CURDIR)/$(BIN) $(GO) run ./test/figures -trials $${TRIALS:-10} -profile lan,fast -scenario unplug,term,haproxy -out docs/failover.md

# figures-membership measures the planned moves of raftvip transfer and raftvip leave
# and writes docs/membership-figures.md.
figures-membership: deps build
	RAFTVIP_BIN=$(CURDIR)/$(BIN) $(GO) run ./test/figures -trials $${TRIALS:-10} -profile lan,fast -scenario transfer,leave -title "Planned moves: raftvip transfer and raftvip leave" -out docs/membership-figures.md

# figures-vrrp measures takeovers between a raftvip cluster and a keepalived node in
# one VRRP group and writes docs/vrrp-figures.md.
figures-vrrp: deps build
	RAFTVIP_BIN=$(CURDIR)/$(BIN) $(GO) run ./test/figures -trials $${TRIALS:-10} -profile lan -scenario vrrp-stop,vrrp-unplug,vrrp-foreign -title "VRRP: takeovers between raftvip and keepalived" -out docs/vrrp-figures.md

# deb builds dist/raftvip_<version>_<arch>.deb with dpkg-deb (packaging/build-deb.sh):
# a static binary (no libc dependency), the systemd unit, man page, completions and the
# example config. Install it with dpkg -i; see README.md, Install.
deb:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/raftvip ./cmd/raftvip
	packaging/build-deb.sh --binary dist/raftvip --out dist

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist
