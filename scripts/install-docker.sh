#!/usr/bin/env bash
# A Docker engine for testkit's Docker backend and its tests. Installs `docker.io` with apt where apt and root
# are available and no engine is installed. With --start, also starts `dockerd` when no engine answers (there
# is no systemd on CI machines) and prints the pid it started, so that the caller can stop it again.
set -euo pipefail

if ! command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing docker.io with apt-get..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
  else
    echo "error: the Docker tests need a Docker engine; install one (Debian/Ubuntu: sudo apt-get install docker.io)" >&2
    exit 1
  fi
fi

[ "${1:-}" = --start ] || exit 0
docker info >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "error: no Docker engine answers; start it (sudo systemctl start docker, or sudo dockerd)" >&2
  exit 1
fi
log=${TMPDIR:-/tmp}/etcdkit-dockerd.log
echo "starting dockerd (log: $log)..." >&2
dockerd >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if docker info >/dev/null 2>&1; then
    echo "$pid"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.3
done
echo "error: dockerd did not come up; its log:" >&2
tail -20 "$log" >&2
kill "$pid" 2>/dev/null || true
exit 1
