#!/usr/bin/env bash
# install.sh — install pier as a service that starts at boot (systemd): sets
# up what run.sh does, then writes and enables units for containerd and pier.
# Extra arguments are added to `pier serve` (e.g. --domain example.com).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_root
[ -d /run/systemd/system ] || die "systemd is not running on this machine; use scripts/run.sh instead"
install_packages
ensure_go
build_pier
systemctl enable --now containerd >/dev/null
pier base build

cat >/etc/systemd/system/pier.service <<UNIT
[Unit]
Description=pier, a self-hosted PaaS
After=network-online.target containerd.service
Wants=network-online.target
Requires=containerd.service

[Service]
ExecStart=/usr/local/bin/pier serve $*
Restart=always
RestartSec=2
# Apps keep running in containerd while pier restarts.
KillMode=process
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now pier
say "pier is installed and running: systemctl status pier; logs: journalctl -u pier -f"
