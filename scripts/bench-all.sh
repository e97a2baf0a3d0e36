#!/usr/bin/env bash
# Every benchmark figure in README's performance section, in one run (after `mvn -B -q package -DskipTests`):
#   1. native harness: model sweep + latency/odd shapes, every ISA path, 1 and all threads, oneDNN peer, ceilings
#   2. native harness --fused: fused residual add and memory-saving backward against the unfused sequences
#   3. the CLI's bench: the same sweep through the Java API
#   4. JMH: the Java API end to end against the pure-Java Vector API bar
# Outputs land in target/bench/ (CSV, JSON, logs) and docs/bench-cpu.svg (the README chart).
# Run it on a quiet machine: the numbers are medians, but other load still moves them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench
mkdir -p "$out" docs
bin=target/cmake-build/bin/ln4j_bench
jar=target/layernorm4j-0.1.0-cli.jar
[ -x "$bin" ] && [ -f "$jar" ] || { echo "build first: mvn -B -q package -DskipTests" >&2; exit 2; }

"$bin" --csv "$out/sweep.csv" --json "$out/sweep.json" --svg docs/bench-cpu.svg "$@" | tee "$out/sweep.txt"
"$bin" --fused --csv "$out/fused.csv" | tee "$out/fused.txt"
java -jar "$jar" bench | tee "$out/java-sweep.txt"
mvn -B -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/jmh.cp
java --add-modules jdk.incubator.vector -cp "target/test-classes:target/classes:$(cat target/jmh.cp)" \
  org.openjdk.jmh.Main LayerNormBench -f 1 -wi 3 -i 5 -r 300ms -w 300ms -rf json -rff "$out/jmh.json" \
  | tee "$out/jmh.txt"
