#!/usr/bin/env bash
# run.sh — set up pier on this machine and run it in the foreground.
#
# Installs what is missing (containerd, runc, CNI plugins, iptables, git,
# debootstrap) from the OS packages, starts containerd, builds pier into
# /usr/local/bin/pier, builds and imports the base image if absent, then runs
# `pier serve` with the defaults: data in /var/lib/pier, SSH on :2222, HTTP on
# :80, apps at http://<app>.localhost. Extra arguments go to `pier serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_root
install_packages
ensure_go
build_pier
start_containerd
pier base build

host=$(hostname -f 2>/dev/null || hostname)
cat <<MSG

-----> pier is starting. Next steps:

  1. Add your SSH key (on this server):
       pier ssh-keys:add laptop < ~/.ssh/id_ed25519.pub
  2. From your app's git repository:
       git remote add pier ssh://pier@${host}:2222/hello
       git push pier main
  3. Open it:
       curl http://hello.localhost/        (on this server; use --domain for a real one)

  Admin commands: pier help   or   ssh -p 2222 pier@${host} help

MSG
exec pier serve "$@"
