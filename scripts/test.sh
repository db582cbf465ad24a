#!/usr/bin/env bash
# The README's test command: installs what the tests need (etcd, dnsmasq, openssl, a Docker engine), builds,
# lints and runs every suite. A dockerd started here is stopped again, by its pid, when the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --tests
dockerd_pid=$(bash scripts/install-docker.sh --start)
stop_dockerd() {
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
  fi
}
trap stop_dockerd EXIT

npm run check

# In CI, no test may leave a container or network behind (checked while the engine still runs).
if [ "${CI:-}" = true ]; then
  left=$(docker ps -aq --filter label=org.etcdkit.testkit=true; docker network ls -q --filter label=org.etcdkit.testkit=true)
  if [ -n "$left" ]; then
    echo "error: Docker containers or networks left behind by the tests: $left" >&2
    exit 1
  fi
fi
