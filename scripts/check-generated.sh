#!/usr/bin/env bash
# Fails when gen/ or clients/go/gen/ differs from what `npm run generate` produces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/generate.sh
generated=(gen clients/go/gen)
if ! git diff --quiet -- "${generated[@]}" || [ -n "$(git ls-files --others --exclude-standard -- "${generated[@]}")" ]; then
  echo "generated code is stale: run 'npm run generate' and commit the result." >&2
  git status --short -- "${generated[@]}" >&2
  exit 1
fi
echo "generated code is up to date"
