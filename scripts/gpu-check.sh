#!/usr/bin/env bash
# The one-command GPU check of the CUDA path.
#
#   scripts/gpu-check.sh --prepare   on the CPU machine (JDK 17 + Maven): builds the kit the GPU machine needs and
#                                    has not (no JDK, no Maven there): target/gpu-kit = the classes with their natives,
#                                    the dependency jars, a jlink'd JRE, the JUnit console launcher and the test
#                                    classes (git-ignored, < 60 MB).
#   scripts/gpu-check.sh             on the GPU machine (nvcc, CMake, compute-sanitizer, PyTorch): builds the native
#                                    GPU tests for sm_90 only, runs ctest's GPU tests, the Java CUDA tests (the kit),
#                                    compute-sanitizer memcheck / racecheck / synccheck on a quick subset, and the
#                                    benchmark of ours against torch.nn.functional.layer_norm (CUDA events) at the
#                                    CUDA issue's shapes. Logs go to target/gpu-check; summary.txt says what passed,
#                                    failed or was skipped and why. About 8 minutes.
#   scripts/gpu-check.sh --dry-run   anywhere: prepares the kit when it is missing, then does every step that needs
#                                    no GPU (configure + build the sm_90 tests, run them so they report the skip, run
#                                    the Java CUDA tests with the kit's JRE so they report the skip, check the bench
#                                    scripts), says what it skipped and why, exits 0.
#
# Exit status (run mode): 0 when every step that ran passed, 1 otherwise. Steps have their own time limits so that
# the whole run stays within LN4J_GPU_CHECK_BUDGET_S seconds (default 480).
#
# With $OUT set (the device tool: it brings back at most 8 files, two folders deep), $OUT receives, after every step
# (so a run killed at its limit still brings back what it did): summary.txt, gpu-check-logs.tgz (every log and the
# JUnit reports) and the benchmark CSVs; the logs themselves stay in target/gpu-check.
# LN4J_GPU_CHECK_ONLY="native java sanitizer bench" (any subset, comma or space separated) runs only those parts, for a
# short second run after a failure; the default is all of them.
#
# On the device tool (the kit travels as a carried ignored path; nothing else is needed there):
#   on the CPU machine, in the checkout the session was started in:  scripts/gpu-check.sh --prepare
#   device run:  command "scripts/gpu-check.sh"  carry ["target/gpu-kit"]  timeout_s 600
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KIT="$ROOT/target/gpu-kit"
MODE=run
case "${1:-}" in
  --prepare) MODE=prepare ;;
  --dry-run) MODE=dry ;;
  "") ;;
  -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
  *) echo "usage: $0 [--prepare | --dry-run]" >&2; exit 2 ;;
esac
OUTDIR="$ROOT/target/gpu-check"
mkdir -p "$OUTDIR"
[ -n "${OUT:-}" ] && mkdir -p "$OUT"
SUMMARY="$OUTDIR/summary.txt"
[ "$MODE" = prepare ] || { rm -rf "$OUTDIR/junit" "$OUTDIR"/*.log "$OUTDIR"/*.csv; : >"$SUMMARY"; }
START=$(date +%s)
# A dry run happens on a slower, shared CPU machine: its steps get 6 times the limits, and an hour in all.
SCALE=1
[ "$MODE" = dry ] && SCALE=6
BUDGET=${LN4J_GPU_CHECK_BUDGET_S:-$([ "$MODE" = dry ] && echo 3600 || echo 480)}
FAILED=0
JUNIT_VERSION=1.11.4   # junit-platform-console-standalone matching junit-bom 5.11.4

ONLY=" $(echo "${LN4J_GPU_CHECK_ONLY:-native java sanitizer bench}" | tr ',' ' ') "
want() { [[ "$ONLY" == *" $1 "* ]]; }

say() { echo "gpu-check: $*"; echo "$*" >>"$SUMMARY"; }
# Copies what the device tool brings back into $OUT (few files: the summary, one archive of the logs, the CSVs).
publish() {
  [ -n "${OUT:-}" ] && [ "$MODE" != prepare ] || return 0
  cp "$SUMMARY" "$OUT/summary.txt" 2>/dev/null
  tar czf "$OUT/gpu-check-logs.tgz" -C "$OUTDIR" . 2>/dev/null
  for f in "$OUTDIR"/bench-*.csv; do [ -f "$f" ] && cp "$f" "$OUT/"; done
  return 0
}
trap publish EXIT
left() { echo $((BUDGET - ($(date +%s) - START))); }
# step NAME LIMIT_S CMD...: runs CMD with a time limit (never past the budget), log in $OUTDIR/NAME.log.
step() {
  local name=$1 limit=$(($2 * SCALE)); shift 2
  local l; l=$(left)
  if [ "$l" -lt 15 ]; then say "SKIP $name: time budget spent"; return 0; fi
  [ "$limit" -gt "$l" ] && limit=$l
  local t0; t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$OUTDIR/$name.log" 2>&1
  local rc=$?
  local dt=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then say "PASS $name (${dt}s)"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then say "FAIL $name: timed out after ${limit}s (log: $name.log)"; FAILED=1
  elif [ $rc -eq 75 ]; then say "SKIP $name: $(tail -n 1 "$OUTDIR/$name.log")"
  else say "FAIL $name: exit $rc (log: $name.log)"; tail -n 30 "$OUTDIR/$name.log"; FAILED=1
  fi
  publish
  return $rc
}

have_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; }

# ---------------------------------------------------------------- prepare (CPU machine)
prepare() {
  command -v mvn >/dev/null && command -v jlink >/dev/null || { echo "prepare needs mvn and jlink (JDK 17)" >&2; return 1; }
  local POM=layernorm4j.pom.xml
  [ -f "$POM" ] || POM=pom.xml
  echo "gpu-check: building the classes, natives (sm_90) and test classes (mvn test-compile, CUDA on)"
  # Its own CMake build folder, sm_90 only (the H200; every shipped architecture would push the kit past 60 MB) and
  # no emulation test; target/classes then holds these natives until the next ordinary build.
  local args=(-Dln4j.cuda=ON "-Dln4j.cmake.build=$ROOT/target/gpu-kit-build"
    "-Dln4j.cmake.args=-DLN4J_CUDA_ARCHITECTURES=${LN4J_GPU_KIT_ARCH:-90-real} -DLN4J_CUDA_EMULATION_TEST=OFF")
  mvn -B -q -o -f "$POM" test-compile "${args[@]}" || return 1
  rm -rf "$KIT/lib" "$KIT/classes" "$KIT/test-classes" && mkdir -p "$KIT/lib"
  # target/classes holds the classes and, beside them, the natives JavaCPP loads (as surefire uses them).
  cp -r target/classes "$KIT/classes"
  cp -r target/test-classes "$KIT/test-classes"
  echo "gpu-check: copying the runtime and test dependencies"
  mvn -B -q -o -f "$POM" dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$KIT/lib" \
    || mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$KIT/lib" || return 1
  # (the online fallback fetches the dependency plugin the first time; the build itself stays offline)
  # The GPU machine needs only linux-x86_64 natives; JMH and its annotation processor are not run there.
  rm -f "$KIT"/lib/*-linux-arm64.jar "$KIT"/lib/*-linux-ppc64le.jar "$KIT"/lib/*-macosx-*.jar "$KIT"/lib/*-windows-*.jar
  rm -f "$KIT"/lib/jmh-*.jar "$KIT"/lib/jopt-simple-*.jar "$KIT"/lib/commons-math3-*.jar
  local cons="junit-platform-console-standalone-$JUNIT_VERSION.jar"
  local m2="${MAVEN_REPO:-$HOME/.m2/repository}/org/junit/platform/junit-platform-console-standalone/$JUNIT_VERSION/$cons"
  if [ ! -f "$m2" ]; then
    echo "gpu-check: fetching the JUnit console launcher from Maven Central"
    mvn -B -q dependency:get -Dartifact="org.junit.platform:junit-platform-console-standalone:$JUNIT_VERSION" || return 1
  fi
  cp "$m2" "$KIT/junit-console.jar"
  # The console launcher bundles JUnit: the separate junit-* jars would be a second copy on the class path.
  rm -f "$KIT"/lib/junit-*.jar "$KIT"/lib/opentest4j-*.jar "$KIT"/lib/apiguardian-*.jar
  if [ ! -x "$KIT/jre/bin/java" ]; then
    echo "gpu-check: jlink'ing a JRE"
    jlink --add-modules java.base,java.logging,java.xml,java.management,jdk.unsupported \
      --strip-debug --no-header-files --no-man-pages --compress=2 --output "$KIT/jre" || return 1
  fi
  local mb; mb=$(du -sm "$KIT" | cut -f1)
  echo "gpu-check: kit ready: $KIT ($mb MB)"
  if [ "$mb" -ge 60 ]; then echo "gpu-check: the kit must stay under 60 MB" >&2; return 1; fi
}

kit_ok() { [ -x "$KIT/jre/bin/java" ] && [ -f "$KIT/junit-console.jar" ] && [ -d "$KIT/classes" ] && [ -d "$KIT/test-classes" ]; }

if [ "$MODE" = prepare ]; then prepare; exit $?; fi

# ---------------------------------------------------------------- the steps
say "gpu-check $(date -u +%FT%TZ) mode=$MODE host=$(hostname) out=$OUTDIR"
if have_gpu; then nvidia-smi >"$OUTDIR/nvidia-smi.log" 2>&1; say "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
else say "GPU: none (nvidia-smi missing or lists no GPU)"; fi
GPU=0; have_gpu && GPU=1
if [ "$MODE" = run ] && [ $GPU = 0 ]; then say "FAIL: no GPU here; use --dry-run on a GPU-less machine"; exit 1; fi

if want java && ! kit_ok; then
  if [ "$MODE" = dry ] && command -v mvn >/dev/null; then
    step prepare 900 "$0" --prepare
  else
    say "SKIP java: no kit at target/gpu-kit (run scripts/gpu-check.sh --prepare on the CPU machine first)"
  fi
fi

# Native GPU tests for sm_90 only (the emulation test is the CPU machine's business). ln4j_bench is built with them
# when the benchmark is wanted.
BUILD="$ROOT/target/gpu-check-build"
# A dry run reuses --prepare's build folder when there is one: it was configured with the same options (CUDA on,
# sm_90 only, no emulation test) and already holds both targets, so the configure and build steps below rehearse
# the commands without compiling everything a second time on a slow machine. The GPU machine has no such folder
# (only target/gpu-kit travels) and builds from scratch.
if [ "$MODE" = dry ] && [ -f "$ROOT/target/gpu-kit-build/CMakeCache.txt" ]; then BUILD="$ROOT/target/gpu-kit-build"; fi
TARGETS=(ln4j_test_cuda); want bench && TARGETS+=(ln4j_bench)
if ! want native && ! want sanitizer && ! want bench; then :
elif command -v nvcc >/dev/null && command -v cmake >/dev/null; then
  if step native-configure 120 cmake -S native -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLN4J_CUDA=ON \
      -DLN4J_CUDA_ARCHITECTURES=90-real -DLN4J_CUDA_EMULATION_TEST=OFF &&
    step native-build 300 cmake --build "$BUILD" --parallel "$(nproc)" --target "${TARGETS[@]}"; then
    if ! want native; then :
    elif [ $GPU = 1 ]; then
      step ctest-gpu 240 ctest --test-dir "$BUILD" -R '^cuda_kernels$' --output-on-failure
    elif step ctest-gpu-skips 60 bash -c "ctest --test-dir '$BUILD' -R '^cuda_kernels\$' --output-on-failure &&
        grep -q 'skipped' '$BUILD/Testing/Temporary/LastTest.log'"; then
      say "  (no GPU: ctest's cuda_kernels ran its argument checks and reported the skip)"
    fi
  else
    say "SKIP ctest: the native GPU tests did not build"
  fi
else
  say "SKIP native: nvcc or cmake missing"
fi

# Java CUDA tests (tag gpu) with the kit's JRE and the natives built by --prepare (sm_90 unless LN4J_GPU_KIT_ARCH).
if want java && kit_ok; then
  CP="$KIT/test-classes:$KIT/classes:$(ls "$KIT"/lib/*.jar | tr '\n' ':')"
  step java-gpu-tests 240 "$KIT/jre/bin/java" -Dorg.bytedeco.javacpp.cachedir="$ROOT/target/gpu-check-javacpp" \
    -jar "$KIT/junit-console.jar" execute --class-path "$CP" --scan-class-path "$KIT/test-classes" \
    --include-tag gpu --details=summary --reports-dir "$OUTDIR/junit" --fail-if-no-tests
  if [ $GPU = 0 ]; then
    grep -q "skipped" "$OUTDIR/java-gpu-tests.log" && say "  (no GPU: the Java CUDA tests reported the skip with the probe's reason)"
  fi
fi

# compute-sanitizer on the quick subset (every regime and variant, two dtype pairs). Some device machines (gVisor)
# refuse compute-sanitizer altogether ("Device not supported"): that is reported as a skip, not as a finding, and
# the other tools are not tried.
if ! want sanitizer; then :
elif [ $GPU = 1 ] && command -v compute-sanitizer >/dev/null && [ -x "$BUILD/bin/ln4j_test_cuda" ]; then
  # Launch counts that fit: the quick subset's first launches cover every regime of the first dtype pair (racecheck
  # and synccheck slow each checked launch most); launches past the count run unchecked.
  for spec in memcheck:1500:80 racecheck:300:70 synccheck:300:50; do
    IFS=: read -r tool count limit <<<"$spec"
    step "sanitizer-$tool" "$limit" bash -c 'log=$(mktemp); LN4J_CUDA_TEST_QUICK=1 compute-sanitizer --tool "$1" \
        --error-exitcode 1 --launch-count "$2" --print-limit 20 "$3" >"$log" 2>&1; rc=$?; cat "$log"
      if [ $rc -ne 0 ] && grep -qi "device not supported" "$log"; then
        echo "compute-sanitizer refused this device (Device not supported): not run"; exit 75; fi
      exit $rc' _ "$tool" "$count" "$BUILD/bin/ln4j_test_cuda"
    [ $? -eq 75 ] && { say "SKIP compute-sanitizer racecheck/synccheck: the device refused memcheck already"; break; }
  done
else
  say "SKIP compute-sanitizer: $( [ $GPU = 1 ] && echo 'compute-sanitizer or the test binary missing' || echo 'no GPU')"
fi

# Benchmark: ours (ln4j_bench, CUDA events, rotation beyond L2) and PyTorch at 64M elements per shape,
# cols 768..16384, float32 and bfloat16, forward and backward, plus the device-to-device copy ceiling.
BENCH_COLS=768,1024,2048,4096,8192,16384
BENCH_ELEMS=67108864
BENCH_ARGS=(--no-cpu --no-onednn --shapes none --cols $BENCH_COLS --gpu-elements $BENCH_ELEMS --reps 15 --budget-ms 150)
if ! want bench; then :
elif [ $GPU = 1 ] && [ -x "$BUILD/bin/ln4j_bench" ]; then
  for dt in float32 bfloat16; do
    step "bench-ours-$dt" 60 "$BUILD/bin/ln4j_bench" "${BENCH_ARGS[@]}" --dtype $dt --csv "$OUTDIR/bench-ours-$dt.csv"
  done
elif [ -x "$BUILD/bin/ln4j_bench" ]; then
  # No GPU: the same command line must parse and end in the harness's "cuda: skipped" line.
  step bench-ours-args 60 bash -c '"$@" && grep -q "^cuda: skipped" "$0"' "$OUTDIR/bench-ours-args.log" \
    "$BUILD/bin/ln4j_bench" "${BENCH_ARGS[@]}" --dtype bfloat16 --csv "$OUTDIR/bench-ours-args.csv" \
    && say "  (no GPU: ln4j_bench took the benchmark's arguments and reported the skip)"
else
  say "SKIP bench-ours: ln4j_bench missing"
fi
if ! want bench; then :
elif python3 -c 'import torch' >/dev/null 2>&1 && [ $GPU = 1 ]; then
  step bench-torch 90 python3 scripts/gpu_bench_torch.py --cols $BENCH_COLS --elements $BENCH_ELEMS \
    --csv "$OUTDIR/bench-torch.csv"
else
  step bench-torch-syntax 30 python3 -m py_compile scripts/gpu_bench_torch.py
  say "SKIP bench-torch: $( python3 -c 'import torch' >/dev/null 2>&1 && echo 'no GPU' || echo 'PyTorch not installed here') (script compiled only)"
fi

say "elapsed $(( $(date +%s) - START ))s; logs in $OUTDIR"
if [ "$MODE" = dry ]; then
  say "dry run: done (nothing above ran on a GPU)"
  exit 0
fi
exit $FAILED
