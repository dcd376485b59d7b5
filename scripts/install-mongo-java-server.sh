#!/usr/bin/env bash
# Resolves the classpath of the in-memory MongoDB used by the MongoDB store
# tests (mongo-java-server, pinned in test/support/mongo-java-server/pom.xml),
# once per pom: jars go to ~/.m2, the classpath to .tools/mongo-java-server/.
# Without Java 17+ or Maven it says so in one line and exits 0: those tests
# then skip (loudly) unless MONGODB_URI or Docker gives them a MongoDB.
set -euo pipefail
cd "$(dirname "$0")/.."
pom=test/support/mongo-java-server/pom.xml
out=.tools/mongo-java-server
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "mongo-java-server: java or mvn not found; MongoDB tests will need MONGODB_URI or Docker"
  exit 0
fi
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
if [ "${java_major%%.*}" -lt 17 ] 2>/dev/null; then
  echo "mongo-java-server: needs Java 17+, found ${java_major:-unknown}; MongoDB tests will need MONGODB_URI or Docker"
  exit 0
fi
stamp="$out/stamp-$(sha256sum "$pom" | cut -c1-16)"
if [ -f "$stamp" ] && [ -s "$out/classpath.txt" ]; then
  missing=0
  IFS=: read -ra jars < "$out/classpath.txt" || true
  for jar in "${jars[@]}"; do [ -f "$jar" ] || missing=1; done
  [ "$missing" = 0 ] && exit 0
fi
mkdir -p "$out"
rm -f "$out"/stamp-* "$out/classpath.txt"
echo "mongo-java-server: resolving $pom with mvn"
mvn -q -B -f "$pom" dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$PWD/$out/classpath.txt" >"$out/mvn.log" 2>&1 ||
  { cat "$out/mvn.log"; echo "mongo-java-server: mvn failed (log above)"; exit 1; }
touch "$stamp"
