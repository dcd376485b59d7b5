#!/usr/bin/env bash
# Regenerates gen/ from proto/ and the third-party protos shipped in node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
buf generate
