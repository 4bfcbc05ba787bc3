#!/usr/bin/env bash
# mkbase.sh ROOTFS — builds pier's default base root filesystem into ROOTFS.
#
# Debian bookworm minbase with python3 (+venv, pip, and `python` for apps
# that call it), nodejs, npm (the npm
# project's own tarball: Debian's npm package pulls ~150 MB of node-* libraries),
# ca-certificates and an unprivileged `app` user, trimmed of apt caches, docs and
# locales. The directory holds every mountpoint pier's runtime uses, so read-only
# containers start and builds do not leak /run into app layers.
#
# Environment: PIER_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# PIER_NPM_VERSION (default 10.9.9). pier embeds this script; `pier base build`
# runs it and packs the result as an OCI image.
set -euo pipefail

root=${1:?usage: mkbase.sh ROOTFS}
mirror=${PIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
npm_version=${PIER_NPM_VERSION:-10.9.9}

say() { printf -- '-----> %s\n' "$*"; }

for tool in debootstrap chroot curl tar; do
  command -v "$tool" >/dev/null || { echo "mkbase: $tool is not installed" >&2; exit 1; }
done

mkdir -p "$root"
cleanup() { umount "$root/proc" 2>/dev/null || true; }
trap cleanup EXIT

say "debootstrap bookworm (minbase) into $root"
debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
  { tail -20 "$root.debootstrap.log" >&2; exit 1; }
rm -f "$root.debootstrap.log"

say "installing python3 (python too), python3-venv, python3-pip, nodejs"
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends python3 python-is-python3 python3-venv python3-pip nodejs >/dev/null
umount "$root/proc"

say "installing npm $npm_version"
mkdir -p "$root/usr/local/lib/node_modules/npm"
curl -fsSL "https://registry.npmjs.org/npm/-/npm-$npm_version.tgz" |
  tar -xz -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

say "adding the app user"
chroot "$root" /usr/sbin/groupadd --gid 10001 app
chroot "$root" /usr/sbin/useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /bin/sh app
mkdir -p "$root/app"
chown 10001:10001 "$root/app"

say "trimming"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/usr/share/locale/* "$root"/usr/share/lintian "$root"/var/log/* \
  "$root"/usr/local/lib/node_modules/npm/docs "$root"/usr/local/lib/node_modules/npm/man
find "$root/usr/lib" -name '__pycache__' -type d -prune -exec rm -rf {} +

# Mountpoints the runtime binds over; they must exist in a read-only root.
mkdir -p "$root/run" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/cache" "$root/etc/pier"
: >"$root/etc/pier/ca.crt"
chmod 1777 "$root/tmp"
: >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
rm -rf "$root"/run/* "$root"/tmp/*
say "base root filesystem ready: $(du -sh "$root" | cut -f1)"
