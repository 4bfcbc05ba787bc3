#!/usr/bin/env bash
# bench.sh — measure pier on this machine and print a table: first deploy and
# code-only redeploy of a Node app (push -> new version answering, median of
# 5), pier's RSS idle, the base image's size, and how late cron jobs start
# after their scheduled instant (bench_cron_test.go). Runs against a private
# containerd, like the tests; the base image comes from /var/cache/pier.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_root
install_packages
ensure_go
go test -tags bench -run '^TestBench' -count=1 -timeout 30m -v . 2>&1 |
  grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS' -e '^ok ' || true
