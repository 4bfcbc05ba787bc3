#!/usr/bin/env bash
# test.sh — install what pier needs and run every test: unit tests and the
# end-to-end tests, which start their own containerd, build real apps and push
# them with the real git and ssh. Also checks that pier cross-builds for the
# Raspberry Pi (linux/arm64). The base image is cached in /var/cache/pier.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_root
install_packages chromium qemu-user-static  # the dashboard's browser test; arm64 tests
ensure_go
export CI=${CI:-}

say "go vet"
go vet ./...
say "go test"
# Each package's result, the whole output of what failed, then the
# slowest tests (scripts/testlog).
go build -o /tmp/pier-testlog ./scripts/testlog
set +e
go test -json -count=1 -timeout 60m ./... 2>&1 | /tmp/pier-testlog
codes=("${PIPESTATUS[@]}")
set -e
rm -f /tmp/pier-testlog
[ "${codes[0]}" -eq 0 ] && [ "${codes[1]}" -eq 0 ] || die "tests failed"
# go test above replayed each fuzz target's committed corpus
# (testdata/fuzz/FuzzXxx); here each target also fuzzes, for its share of
# FUZZ_SECONDS (each start costs a few seconds more: the whole step stays
# under 2 minutes). A failing input is written to that corpus directory:
# commit it with the fix.
FUZZ_SECONDS=${PIER_FUZZ_SECONDS:-60}
fuzz_targets=()
for pkg in $(grep -rl --include='*_test.go' --exclude-dir=.git '^func Fuzz' . | xargs -n1 dirname | sort -u); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
    fuzz_targets+=("$pkg $target")
  done
done
[ ${#fuzz_targets[@]} -gt 0 ] || die "no fuzz targets found"
fuzz_time=$(( FUZZ_SECONDS / ${#fuzz_targets[@]} ))
[ "$fuzz_time" -ge 2 ] || fuzz_time=2
say "fuzz: ${#fuzz_targets[@]} targets, ${fuzz_time}s each"
for t in "${fuzz_targets[@]}"; do
  read -r pkg target <<<"$t"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "${fuzz_time}s" "$pkg" >/tmp/pier-fuzz.log 2>&1 ||
    { cat /tmp/pier-fuzz.log; die "$target ($pkg) failed; the input is in $pkg/testdata/fuzz/$target"; }
done
rm -f /tmp/pier-fuzz.log
say "cross-build for linux/arm64 (Raspberry Pi OS 64-bit)"
GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -o /dev/null .
# The arm64 build's own tests, under qemu-user: every package but those
# that run containers (their images and shims are this machine's).
say "go test, linux/arm64 under qemu-user"
arm64=$(go list ./... | grep -v -E '^pier/(builder|e2e|runtime)(/|$)')
# shellcheck disable=SC2086
PIER_TEST_EMULATOR=qemu-aarch64-static GOOS=linux GOARCH=arm64 CGO_ENABLED=0 \
  go test -count=1 -timeout 20m -exec qemu-aarch64-static $arm64 || die "arm64 tests failed"
say "all tests passed"
