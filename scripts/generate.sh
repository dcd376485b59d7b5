#!/usr/bin/env bash
# Regenerates gen/ and the TypeScript, Go and Python packages' generated code
# from proto/ (and the third-party protos in node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-codegen.sh
export PATH="$PWD/node_modules/.bin:$PATH"
rm -rf gen/ts clients/ts/src/gen clients/go/gen
py_gen=clients/python/src/weftflow/_proto
rm -rf "$py_gen"
buf generate
buf generate --template scripts/buf/ts-deps.gen.yaml
buf generate --template scripts/buf/client-ts-deps.gen.yaml
# The Python code is generated for the import path weft.v1, but ships inside the
# weftflow distribution as weftflow._proto.weft.v1 (the top-level name `weft`
# belongs to another PyPI package). Neither protoc's python generator nor
# grpc_python can add an import prefix, so point the two places that name the
# module at its real path: the grpc stub's import of the messages, and the module
# name the messages are built with (their __module__).
.venv/bin/python - "$py_gen" <<'PY'
import pathlib
import re
import sys

prefix = "weftflow._proto."
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^from (weft\.v1) import ", rf"from {prefix}\1 import ", text, flags=re.M)
    text = re.sub(r"BuildTopDescriptorsAndMessages\(DESCRIPTOR, '(weft\.v1\.)", rf"BuildTopDescriptorsAndMessages(DESCRIPTOR, '{prefix}\1", text)
    path.write_text(text, encoding="utf-8")
PY
