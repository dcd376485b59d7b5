#!/usr/bin/env bash
# Everything CI checks: proto lint, generated code freshness, typecheck, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

echo "== buf lint"
buf lint
echo "== buf breaking (against main)"
if git rev-parse --verify -q main >/dev/null; then
  buf breaking --against ".git#branch=main"
else
  echo "no local main branch: skipped"
fi
echo "== generated code is up to date"
bash scripts/check-generated.sh
echo "== typecheck"
tsc --noEmit -p tsconfig.json
echo "== tests"
report="$(mktemp -d)/vitest.json"
status=0
vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
if [ -f "$report" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  ' "$report"
fi
exit "$status"
