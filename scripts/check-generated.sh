#!/usr/bin/env bash
# Fails when gen/ or clients/ts/src/gen differs from what `npm run generate` produces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/generate.sh
if ! git diff --quiet -- gen clients/ts/src/gen || [ -n "$(git ls-files --others --exclude-standard -- gen clients/ts/src/gen)" ]; then
  echo "gen/ or clients/ts/src/gen is stale: run 'npm run generate' and commit the result." >&2
  git status --short -- gen clients/ts/src/gen >&2
  exit 1
fi
echo "gen/ and clients/ts/src/gen are up to date"
