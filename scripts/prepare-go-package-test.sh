#!/usr/bin/env bash
# Set-up for TestOutsideModule (clients/go/weft/outside_module_test.go), run by
# scripts/test.sh before the test runners: makes a fresh module outside the
# repository that uses the Go client the way another project does (the steps
# of clients/go/README.md: a replace line and a require of the placeholder
# version, then go mod tidy, which downloads what it needs into the module
# cache). Its go.mod and go.sum are left in
# .tools/pkg-test/go, with go-bin: the go command of the oldest Go the client
# supports (a toolchain module, downloaded once), which the test builds with,
# with GOPROXY=off.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
dest="$root/.tools/pkg-test/go"
min_go=1.24.0
go_min="$(GOTOOLCHAIN="go$min_go" go env GOROOT)/bin/go"
GOTOOLCHAIN=local "$go_min" version
app="$(mktemp -d "${TMPDIR:-/tmp}/weft-go-app-XXXXXX")"
trap 'rm -rf "$app"' EXIT
cp clients/go/weft/testdata/outside-module/main.go "$app/"
cd "$app"
export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local
go mod init example.com/app
# The module says the oldest Go the client supports: go mod tidy raises it
# (and the test fails) if the client or its dependencies need a newer one.
go mod edit -go="$min_go"
# The README's steps, exactly: the require makes tidy take the client's own
# grpc-go (v1.80.0, Go 1.24) instead of the newest, which needs a newer Go.
go mod edit -replace github.com/weftflow/weft/clients/go="$root/clients/go"
go mod edit -require github.com/weftflow/weft/clients/go@v0.0.0-00010101000000-000000000000
go mod tidy
mkdir -p "$(dirname "$dest")"
next="$(mktemp -d "$dest.XXXXXX")"
chmod 755 "$next"
cp go.mod go.sum "$next/"
echo "$go_min" >"$next/go-bin"
rm -rf "$dest"
mv "$next" "$dest"
echo "prepared $dest (go.mod, go.sum; modules in $(go env GOMODCACHE))"
