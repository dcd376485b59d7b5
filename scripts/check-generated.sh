#!/usr/bin/env bash
# Fails when gen/ (or the TypeScript, Go or Python package's generated code) differs from what
# `npm run generate` produces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/generate.sh
generated=(gen clients/ts/src/gen clients/go/gen clients/python/src/weftflow/_proto)
if ! git diff --quiet -- "${generated[@]}" || [ -n "$(git ls-files --others --exclude-standard -- "${generated[@]}")" ]; then
  echo "generated code is stale: run 'npm run generate' and commit the result." >&2
  git status --short -- "${generated[@]}" >&2
  exit 1
fi
echo "generated code is up to date"
