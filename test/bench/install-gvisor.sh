#!/bin/sh
# Installs gVisor's runsc, the peer of `make bench`, as
# /usr/local/bin/runsc-gvisor. Static (CGO_ENABLED=0): a dynamically linked
# gVisor fails to start its sandbox on these machines. Pinned to the
# pseudo-version that `go list -m gvisor.dev/gvisor@latest` gave on
# 2026-11-29; the build takes several minutes.
set -eu
version=v0.0.0-20260905035102-160fafc42237
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
GOBIN="$scratch/bin" CGO_ENABLED=0 go install "gvisor.dev/gvisor/runsc@$version"
install -m 755 "$scratch/bin/runsc" /usr/local/bin/runsc-gvisor
