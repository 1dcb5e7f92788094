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

# Go benchmarks of the hot paths; results are recorded in docs/PERFORMANCE.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sentry/fs/...

demo: build
	./bin/runsc vfs-demo

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
