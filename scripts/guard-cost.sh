#!/usr/bin/env bash
# What the call guard (CallGuard: a close racing a call waits for it) costs per call through the API, with and without
# it in the same build and the same run (the budget is 10 ns on the 1 x 768 fp32 forward):
#   scripts/guard-cost.sh [cols] [pairs]      (defaults 768 and 8; about 1 to 2 minutes)
# Runs LatencyProbe --guard-cost, which alternates child JVMs with the guard and with
# -Dlayernorm4j.unsafe.noCallGuard=true and prints each pair and the median difference. Needs a built tree
# (target/classes with the natives, target/test-classes); when one is missing it runs `mvn -o test-compile` first
# (LN4J_MVN_ARGS adds arguments, e.g. "-Dln4j.cuda=OFF"). Only meaningful on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
POM=layernorm4j.pom.xml
[ -f "$POM" ] || POM=pom.xml
if [ ! -f target/test-classes/org/layernorm4j/LatencyProbe.class ] || ! ls target/classes/org/layernorm4j/internal/linux-x86_64/*.so >/dev/null 2>&1; then
  echo "guard-cost: building (mvn -o test-compile ${LN4J_MVN_ARGS:-})"
  # shellcheck disable=SC2086
  mvn -B -q -o -f "$POM" test-compile ${LN4J_MVN_ARGS:-}
fi
cpfile=$(mktemp)
trap 'rm -f "$cpfile"' EXIT
mvn -B -q -o -f "$POM" dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cpfile" >/dev/null
java -cp "target/test-classes:target/classes:$(cat "$cpfile")" org.layernorm4j.LatencyProbe --guard-cost "$@"
