#!/usr/bin/env bash
# Installs everything etcdkit needs on this machine, then builds it: etcd (3.4/3.5), the npm packages, dist/.
# With --tests, also what the test suites need (dnsmasq, openssl; as root, iproute2 and iptables for testkit's
# netns backend). Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-etcd.sh
if [ "${1:-}" = --tests ]; then
  bash scripts/install-test-tools.sh
fi

# npm packages exactly as the committed lockfile says (`npm ci`), when node_modules is missing or older than the
# lockfile, and always in CI. The lockfile lists every platform's optional binaries (biome, turbo), so it installs
# the same anywhere; `npm ci` refuses a lockfile that is out of date with a package.json.
if [ "${CI:-}" = true ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

npx turbo run build --output-logs=errors-only
