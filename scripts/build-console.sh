#!/usr/bin/env bash
# Builds the web console (console/, served at /ui/) into console/dist: installs console/'s own
# dependencies from its lock file (again only when the lock file changed since the last install),
# then type-checks and bundles it with Vite. `npm run build:console`; scripts/test.sh runs it in
# its set-up, and the npm package and the container image ship console/dist.
set -euo pipefail
# Everything it prints goes to stderr: `npm pack --json` (whose prepack runs this) keeps stdout for its JSON.
exec 1>&2
cd "$(dirname "$0")/../console"
stamp=node_modules/.weft-installed-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "build:console: npm ci in console/"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi
npm run build
