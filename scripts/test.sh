#!/usr/bin/env bash
# Everything CI checks: proto lint and breaking-change check, generated code
# freshness, typecheck, and every test suite (TypeScript, Go client, Python
# client). Ends with one line: "N passed, N failed, N skipped" over all suites.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
reports="$(mktemp -d)"
status=0

step() { echo; echo "== $*"; }

step "buf lint"
buf lint || exit 1
step "buf breaking (against main)"
if git rev-parse --verify -q main >/dev/null; then
  buf breaking --against ".git#branch=main" || exit 1
else
  echo "no local main branch: skipped"
fi
step "generated code is up to date"
bash scripts/check-generated.sh || exit 1
step "package tests: set-up (TypeScript client)"
# Installs clients/ts's dependencies (the typecheck and the tests use them) and
# prepares a fresh project with @weftflow/client installed from its tarball.
bash scripts/prepare-package-tests-ts.sh || exit 1
step "console: install and build"
# The web console (console/ and console/dist): the typecheck reads console/ sources (and their
# dependencies), the browser tests use the build, and the packages ship it.
npm run build:console || exit 1
step "typecheck"
tsc --noEmit -p tsconfig.json || exit 1
(cd clients/ts && tsc --noEmit -p tsconfig.json) || exit 1

step "set-up: tools, Python dependencies, packages to test"
bash scripts/install-mongo-java-server.sh || exit 1
bash scripts/install-tools.sh || exit 1
if [ -d clients/python ]; then
  .venv/bin/pip install -q --disable-pip-version-check -r clients/python/requirements-dev.txt -e clients/python || exit 1
  bash scripts/prepare-python-package-test.sh || exit 1
fi

if [ -d clients/go ]; then bash scripts/prepare-go-package-test.sh || exit 1; fi

# The server's packaging tests: the container image's install step, npm pack + install into a
# fresh project, npm ci --omit=dev in a copy of the repository (the registry is reached here only).
node scripts/prepare-server-package-tests.ts || exit 1

step "TypeScript tests (vitest)"
vitest run --reporter=default --reporter=json --outputFile.json="$reports/vitest.json" "$@" || status=1

step "TypeScript end-to-end tests again, every server on the MongoDB store"
# Same suites, WEFT_TEST_STORE=mongodb (test/support/mongo-server.ts finds the MongoDB:
# MONGODB_URI, Docker, or mongo-java-server). Without any, this pass says so and is skipped.
# durability, concurrency-keys-restart, pause-restart and data-files are about the embedded store's files, and the package tests about
# packages (their servers use the embedded store), the console's files and its large-run rendering
# are not about the store, nor is drain-gc (a process on the embedded store); they run in the pass above.
if node -e 'import("./test/support/mongo-server.ts").then((m) => { const p = m.mongoPreflight(); if ("skip" in p) { console.log("SKIPPED: no MongoDB: " + p.skip); process.exit(1); } })'; then
  WEFT_TEST_STORE=mongodb vitest run --reporter=default --reporter=json --outputFile.json="$reports/vitest-mongodb.json" \
    test/e2e --exclude '**/mongo-*.test.ts' --exclude '**/durability.test.ts' --exclude '**/concurrency-keys-restart.test.ts' --exclude '**/pause-restart.test.ts' --exclude '**/data-files.test.ts' --exclude '**/drain-gc.test.ts' \
    --exclude '**/container-image.test.ts' --exclude '**/server-package.test.ts' --exclude '**/client-package.test.ts' \
    --exclude '**/console-assets.test.ts' --exclude '**/console/large-runs.test.ts' || status=1
fi

if [ -d clients/go ]; then
  step "Go client tests (go test)"
  # -json is kept for the totals; its Output fields are echoed as plain go test output.
  (cd clients/go && go vet ./... && go test -count=1 -json ./... | tee "$reports/go.json" |
    node -e 'require("readline").createInterface({input: process.stdin}).on("line", (l) => { try { const e = JSON.parse(l); if (e.Output) process.stdout.write(e.Output); } catch { console.log(l); } })'
  ) || status=1
fi

if [ -d clients/python ]; then
  step "Python client tests (pytest)"
  .venv/bin/python -m pytest clients/python -q -p no:cacheprovider --junit-xml="$reports/pytest.xml" || status=1
fi

node - "$reports" <<'EOF'
const fs = require("fs");
const dir = process.argv[2];
let passed = 0, failed = 0, skipped = 0;
const read = (f) => (fs.existsSync(`${dir}/${f}`) ? fs.readFileSync(`${dir}/${f}`, "utf8") : undefined);
for (const f of ["vitest.json", "vitest-mongodb.json"]) {
  const vitest = read(f);
  if (!vitest) continue;
  const r = JSON.parse(vitest);
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
}
const go = read("go.json");
if (go) {
  for (const line of go.split("\n")) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line);
    if (!e.Test) continue;
    if (e.Action === "pass") passed++;
    else if (e.Action === "fail") failed++;
    else if (e.Action === "skip") skipped++;
  }
}
const py = read("pytest.xml");
if (py) {
  const m = py.match(/<testsuite [^>]*>/);
  const attr = (n) => Number((m?.[0].match(new RegExp(` ${n}="(\\d+)"`)) ?? [])[1] ?? 0);
  const total = attr("tests"), f = attr("failures") + attr("errors"), s = attr("skipped");
  passed += total - f - s; failed += f; skipped += s;
}
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
EOF
exit "$status"
