#!/usr/bin/env bash
# Installs the pinned code generators, once: protoc-gen-go and protoc-gen-go-grpc
# (go install, into .tools/bin) and grpcio-tools (pip, into .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOC_GEN_GO=v1.36.11
PROTOC_GEN_GO_GRPC=v1.6.2
GRPCIO_TOOLS=1.85.1
mkdir -p .tools/bin
stamp=".tools/codegen-$PROTOC_GEN_GO-$PROTOC_GEN_GO_GRPC-$GRPCIO_TOOLS"
[ -f "$stamp" ] && exit 0
GOBIN="$PWD/.tools/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO"
GOBIN="$PWD/.tools/bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check "grpcio-tools==$GRPCIO_TOOLS"
touch "$stamp"
