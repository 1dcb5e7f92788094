# runsc: a sandbox runtime whose sentry answers file syscalls from its own VFS.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build test bench demo lint clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/runsc ./runsc

# The whole suite. Tests that need root, mounts or ptrace run as root (CI is
# root) and skip elsewhere, saying why.
test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

# Go benchmarks of the hot paths, then the runtimes side by side (runc, runsc,
# gVisor systrap and ptrace; test/bench, root only, about half an hour):
# results go to docs/PERFORMANCE.md and docs/bench-results.tsv. gVisor's
# runsc comes from test/bench/install-gvisor.sh. BENCHFLAGS: see
# `go run ./test/bench -h`.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./sentry/fs/...
	$(GO) run ./test/bench $(BENCHFLAGS)

# Seed 002's demonstration: rm -rf /usr inside a sandbox over the host's
# root file system (read-only through the gofer, writes into a tmpfs upper),
# and the host's /usr untouched afterwards. Needs root.
demo: build
	@echo '$$ runsc do sh -c "rm -rf /usr; ..."'
	@./bin/runsc do /bin/sh -c 'echo "in the sandbox, /usr holds: $$(echo /usr/*)"; \
		rm -rf /usr; echo "after rm -rf /usr, the sandbox sees: $$(echo /usr/*)"; \
		echo hello > /etc/motd.sandbox && echo "and wrote /etc/motd.sandbox: $$(read l < /etc/motd.sandbox; echo $$l)"'
	@echo "on the host, /usr still holds: $$(echo /usr/*)"
	@test ! -e /etc/motd.sandbox && echo "and /etc/motd.sandbox does not exist on the host"

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
