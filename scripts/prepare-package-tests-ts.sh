#!/usr/bin/env bash
# Set-up phase of the TypeScript client package tests (test/e2e/client-package.test.ts),
# run by scripts/test.sh before typecheck and the test runners; everything that
# downloads happens here, never in a timed test:
#   1. installs clients/ts's own dependencies (npm ci --prefix clients/ts): the
#      root typecheck and tests compile and run the client's sources with them;
#   2. packs @weftflow/client (npm pack, which builds dist/) and installs the
#      tarball, typescript, @types/node 20 and the optional @connectrpc/connect-node
#      into a fresh project outside the repository, as a user would.
# The project's path: $WEFT_PKG_TEST_DIR, else the one test/support/package-test.ts
# derives from this checkout's path (printed below).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
repo="$PWD"

npm ci --prefix clients/ts --no-audit --no-fund

dir="${WEFT_PKG_TEST_DIR:-$(node -e 'import("./test/support/package-test.ts").then((m) => console.log(m.packageTestDir()))')}"
project="$dir/ts"
rm -rf "$project"
mkdir -p "$project"
(cd clients/ts && npm pack --pack-destination "$project" --silent >/dev/null)
tarball="$(ls "$project"/weftflow-client-*.tgz)"
cat >"$project/package.json" <<'JSON'
{ "name": "weft-client-consumer", "private": true, "type": "module" }
JSON
# typescript: the version the repository uses; @types/node: the oldest Node the package supports.
ts_version="$(node -p 'require("./clients/ts/node_modules/typescript/package.json").version')"
(cd "$project" && npm install --no-audit --no-fund --save-exact \
  "$tarball" "typescript@$ts_version" "@types/node@20" "@connectrpc/connect-node@^2.1.2")
echo "$repo" >"$project/.weft-repo"
echo "TypeScript client package test project: $project"
