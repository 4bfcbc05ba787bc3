# Shared by run.sh, test.sh, install.sh and bench.sh: set up what pier needs on
# a Debian, Ubuntu or Raspberry Pi OS machine. Sourced, not run.

GO_VERSION=${PIER_GO_VERSION:-1.26.8}
PACKAGES=(containerd runc containernetworking-plugins iptables git debootstrap curl ca-certificates iproute2 openssh-client)
# Where the kernel has AppArmor, pier confines containers with a profile it
# loads through apparmor_parser.
if [ -d /sys/kernel/security/apparmor ]; then PACKAGES+=(apparmor); fi

say() { printf -- '-----> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root: sudo $0"
}

# install_packages [extra...] installs the OS packages that are missing.
install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  fi
}

# ensure_go puts a Go toolchain >= GO_VERSION's minor on PATH, downloading the
# official one into /usr/local/go if there is none (Debian's is too old).
ensure_go() {
  export PATH=/usr/local/go/bin:$PATH
  if command -v go >/dev/null; then
    local have
    have=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
    if [ "$(printf '%s\n%s\n' "${GO_VERSION%.*}" "${have%.*}" | sort -V | head -1)" = "${GO_VERSION%.*}" ]; then
      return
    fi
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; armv7l|armv6l) arch=armv6l ;;
    *) die "no Go toolchain for $(uname -m)" ;;
  esac
  say "installing Go $GO_VERSION into /usr/local/go"
  rm -rf /usr/local/go
  curl -fsSL "https://go.dev/dl/go${GO_VERSION}.linux-${arch}.tar.gz" | tar -xz -C /usr/local || die "Go download failed"
}

# start_containerd starts the system containerd unless it already answers.
start_containerd() {
  if ctr version >/dev/null 2>&1; then return; fi
  say "starting containerd"
  if [ -d /run/systemd/system ]; then
    systemctl enable --now containerd >/dev/null 2>&1 || die "systemctl could not start containerd"
  else
    mkdir -p /var/log/pier
    nohup containerd >>/var/log/pier/containerd.log 2>&1 &
  fi
  for _ in $(seq 1 100); do
    ctr version >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "containerd did not start (see /var/log/pier/containerd.log or journalctl -u containerd)"
}

# build_pier builds bin/pier from the checkout and installs it as /usr/local/bin/pier.
build_pier() {
  say "building pier"
  local v
  v=$(git describe --always --dirty 2>/dev/null || echo dev)
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$v" -o bin/pier . || die "go build failed"
  install -m 0755 bin/pier /usr/local/bin/pier
}
