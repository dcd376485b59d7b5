#!/usr/bin/env bash
# Regenerates gen/ and clients/go/gen/ from proto/ (and the third-party protos in node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-codegen.sh
export PATH="$PWD/node_modules/.bin:$PATH"
# Only generated files are removed: gen/python/pyproject.toml etc. stay.
rm -rf gen/ts gen/python/weft clients/go/gen
buf generate
buf generate --template scripts/buf/ts-deps.gen.yaml
