#!/usr/bin/env bash
# What the test suites need besides etcd: dnsmasq (a real DNS server for SRV discovery tests), openssl
# (throw-away certificates for TLS tests), Debian's chromium (headless, to render testkit's HTML history report)
# and, as root, iproute2 and iptables (testkit's netns backend, whose tests run only as root). Installed with apt
# where apt and root are available.
set -euo pipefail

missing=()
[ -x /usr/sbin/dnsmasq ] || command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
command -v openssl >/dev/null || missing+=(openssl)
command -v chromium >/dev/null || missing+=(chromium)
if [ "$(id -u)" = 0 ]; then
  { command -v ip && command -v tc; } >/dev/null || missing+=(iproute2)
  command -v iptables-restore >/dev/null || missing+=(iptables)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing ${missing[*]} with apt-get..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "error: the tests need ${missing[*]}; install them (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
exit 1
