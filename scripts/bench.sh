#!/usr/bin/env bash
# bench.sh — measure pier on this machine and print tables: first deploy and
# code-only redeploy of a Node app (push -> new version answering, median of
# 5) and where its time goes, the floor it is measured against, RSS and
# PSS of pier, containerd and the shims and the overhead per app process,
# the base image's size, and how late cron jobs start
# after their scheduled instant (e2e/bench_cron_test.go); and a cluster of
# three machines on this host, each in a network namespace of its own
# (e2e/bench_cluster_test.go): join times, push -> new version through
# every router, a GET forwarded to another machine against a local one,
# config:set on the raft leader and on a follower, and pier's RSS with the
# cluster off and on. Runs against private containerds, like the tests;
# the base image comes from /var/cache/pier.
# Then requests/s and p99 latency through pier's router against Caddy and
# nginx (e2e/bench_router_test.go), which needs no containerd.
#
#   scripts/bench.sh          every benchmark
#   scripts/bench.sh router   the router benchmark alone (about 10 minutes)
#   scripts/bench.sh cluster  the cluster benchmark alone
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

case "${1:-all}" in
  all) run='^TestBench' ;;
  router) run='^TestBenchRouter$' ;;
  cluster) run='^TestBenchCluster$' ;;
  *) die "usage: $0 [router|cluster]" ;;
esac

# quiet_daemons stops the daemons of packages that were just installed and
# keeps them from starting at boot: the router benchmark starts its own
# Caddy and nginx, and the packages' would hold port 80.
quiet_daemons() {
  for s in "$@"; do
    if [ -d /run/systemd/system ]; then
      systemctl disable --now "$s" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$s" ]; then
      "/etc/init.d/$s" stop >/dev/null 2>&1 || true
      update-rc.d "$s" disable >/dev/null 2>&1 || true
    fi
  done
}

need_root
fresh=()
for p in caddy nginx; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || fresh+=("$p")
done
install_packages caddy nginx wrk
quiet_daemons "${fresh[@]}"
ensure_go
go test -tags bench -run "$run" -count=1 -timeout 60m -v ./e2e/ 2>&1 |
  grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS' -e '^ok ' || true
