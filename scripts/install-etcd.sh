#!/usr/bin/env bash
# Makes sure an etcd that serves the v2 API (3.4 or 3.5) is on this machine.
# Order: $ETCD_BIN, `etcd` on PATH, else Debian/Ubuntu's etcd-server package when apt and root are available.
set -euo pipefail

supported() { # prints the version if "$1" is etcd 3.4/3.5
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/^etcd Version: v\{0,1\}\([0-9.]*\).*/\1/p')
  case "$v" in 3.4.* | 3.5.*) echo "$v" ;; *) return 1 ;; esac
}

for candidate in "${ETCD_BIN:-}" "$(command -v etcd || true)"; do
  if [ -n "$candidate" ] && version=$(supported "$candidate"); then
    echo "etcd $version: $candidate"
    exit 0
  fi
done

if [ -n "${ETCD_BIN:-}" ] || command -v etcd >/dev/null; then
  found="${ETCD_BIN:-$(command -v etcd)}"
  echo "warning: $found is not etcd 3.4/3.5 ($("$found" --version 2>/dev/null | head -1)); etcd 3.6 has no v2 API." >&2
fi

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing etcd-server (etcd 3.4) with apt-get..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
  # Debian's package enables a system service; testkit starts its own members, so stop it where it runs.
  if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
    systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
  if version=$(supported /usr/bin/etcd); then
    echo "etcd $version: /usr/bin/etcd"
    exit 0
  fi
fi

cat >&2 <<'MSG'
error: no etcd 3.4/3.5 found, and it cannot be installed here automatically (needs apt-get and root).
Install it yourself, then run again:
  - Debian/Ubuntu:  sudo apt-get install etcd-server
  - elsewhere:      the v3.4.x or v3.5.x release archive from https://github.com/etcd-io/etcd/releases,
                    with `etcd` on PATH or ETCD_BIN=/path/to/etcd
etcd 3.6 and later have no v2 API and do not work.
MSG
exit 1
