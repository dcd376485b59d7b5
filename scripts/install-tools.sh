#!/usr/bin/env bash
# Tools the tests use, installed here, before any test runs (never inside a
# timed test):
#   grpcurl (pinned below), built with Go into .tools/bin, once per version
#   (a stamp file names it); test/support/grpcurl.ts only looks for it.
#   chromium (Debian's, /usr/bin/chromium) for the web console's browser tests
#   (test/e2e/console), with apt-get when running as root and it is missing; without it those
#   tests fail (they never skip).
#   the mongo:8 image, pulled when a Docker engine is reachable (the MongoDB
#   tests start it with testcontainers; see MONGO_IMAGE in test/support/mongo-server.ts).
# Without Go it says so in one line and exits 0: the grpcurl tests then skip
# loudly, or fail when CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

GRPCURL_VERSION=v1.9.4 # its go.mod needs Go >= 1.25
GRPCURL_MODULE=github.com/fullstorydev/grpcurl/cmd/grpcurl
bin="$PWD/.tools/bin"
stamp="$bin/.grpcurl-$GRPCURL_VERSION"

if [ -x "$bin/grpcurl" ] && [ -f "$stamp" ]; then
  : # installed
elif ! command -v go >/dev/null 2>&1; then
  echo "grpcurl: no Go toolchain to build $GRPCURL_MODULE@$GRPCURL_VERSION; grpcurl tests will skip (fail with CI=true) unless grpcurl is on PATH"
else
  echo "grpcurl: building $GRPCURL_MODULE@$GRPCURL_VERSION into .tools/bin"
  mkdir -p "$bin"
  rm -f "$bin"/.grpcurl-*
  GOBIN="$bin" go install "$GRPCURL_MODULE@$GRPCURL_VERSION"
  touch "$stamp"
fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker image inspect mongo:8 >/dev/null 2>&1 || { echo "docker: pulling mongo:8"; docker pull -q mongo:8; }
fi

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium: installing Debian's chromium (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium: not installed and cannot be installed here (not root, or no apt-get): the console's browser tests will fail; install chromium (or set WEFT_CHROMIUM to a Chromium binary)"
  fi
fi
