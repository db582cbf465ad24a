#!/usr/bin/env bash
# Installs everything etcdkit needs on this machine, then builds it: etcd (3.4/3.5), the npm packages, dist/.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-etcd.sh

# npm packages: `npm ci` when node_modules is missing or older than the lockfile.
if [ "${CI:-}" = true ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

npx turbo run build --output-logs=errors-only
