#!/usr/bin/env bash
# test.sh — install what pier needs and run every test: unit tests and the
# end-to-end tests, which start their own containerd, build real apps and push
# them with the real git and ssh. Also checks that pier cross-builds for the
# Raspberry Pi (linux/arm64). The base image is cached in /var/cache/pier.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_root
install_packages chromium  # the dashboard's browser test
ensure_go
export CI=${CI:-}

say "go vet"
go vet ./...
say "go test"
go test -count=1 -timeout 60m ./...
say "cross-build for linux/arm64 (Raspberry Pi OS 64-bit)"
GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -o /dev/null .
say "all tests passed"
