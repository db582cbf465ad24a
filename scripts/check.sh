#!/usr/bin/env bash
# Builds, type-checks, lints and checks the API docs once, then runs every test suite on this machine's Node.js
# and again on each Node.js line in ETCDKIT_NODE_LINES (default "24"; empty: this machine's Node alone). Every
# suite runs even when an earlier one failed, and the run always ends with one closing line,
# "tests: N passed, N failed, N skipped", summed over all Node lines; a failed or skipped test fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."

rm -rf .test-results
npx turbo run build typecheck --output-logs=errors-only && npx biome ci . && npx typedoc --logLevel Warn || exit 1

# npm reads its global config (this machine's registry, CA file, nodedir) from next to the Node.js that runs it;
# keep this machine's for the suites on the other Node lines, whose npm runs on a Node without that file (turbo
# passes the variable through to the tasks: turbo.json).
npm_config_globalconfig=${npm_config_globalconfig:-$(npm config get globalconfig)}
export npm_config_globalconfig

status=0
run_suites() { # label
  rm -f packages/*/test-results.json examples/test-results.json
  echo "== test suites on Node.js $(node -v) ($(command -v node))"
  npx turbo run test --concurrency=1 --continue || status=1
  node scripts/test-summary.mjs --collect "$1" || status=1
}

run_suites "node$(node -p 'process.versions.node.split(".")[0]')"
for line in ${ETCDKIT_NODE_LINES-24}; do
  if bin=$(bash scripts/node-line.sh "$line"); then
    PATH="$(dirname "$bin"):$PATH" run_suites "node$line"
  else
    echo "error: could not install Node.js $line for the tests" >&2
    status=1
  fi
done

node scripts/test-summary.mjs --total || status=1
exit $status
