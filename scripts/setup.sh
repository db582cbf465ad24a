#!/usr/bin/env bash
# Installs everything etcdkit needs on this machine, then builds it: etcd (3.4/3.5), the npm packages, dist/.
# With --tests, also what the test suites need (dnsmasq, openssl). Safe to run again: each step is skipped
# when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-etcd.sh
if [ "${1:-}" = --tests ]; then
  bash scripts/install-test-tools.sh
fi

# npm packages from the committed lockfile, when node_modules is missing or older than the lockfile.
# Not `npm ci`: registries that mirror only this platform's optional binaries (biome, turbo) leave the other
# platforms' entries out of the lockfile, and `npm ci` then refuses it. `npm install` with the lockfile installs
# the same versions; in CI we check that it left the lockfile untouched, which is what `npm ci` guarantees.
if [ "${CI:-}" = true ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  before=$(sha256sum package-lock.json)
  npm install --no-audit --no-fund
  if [ "${CI:-}" = true ] && [ "$before" != "$(sha256sum package-lock.json)" ]; then
    echo "error: package-lock.json is out of date with package.json; run npm install and commit it" >&2
    exit 1
  fi
fi

npx turbo run build --output-logs=errors-only
