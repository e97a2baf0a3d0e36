#!/usr/bin/env bash
# Builds liblayernorm4j and the native tests with a sanitizer and runs them under ctest:
#   scripts/sanitize.sh asan    # AddressSanitizer + UndefinedBehaviorSanitizer (leaks checked too)
#   scripts/sanitize.sh tsan    # ThreadSanitizer (the CPU thread pool, concurrent calls)
# Extra arguments go to cmake (e.g. -DLN4J_CUDA=ON to add the emulated CUDA kernel tests, -DLN4J_BUILD_BENCH=ON
# to add the benchmark's smoke tests). Build folder: target/sanitize-<kind> (LN4J_SANITIZE_BUILD overrides);
# LN4J_JOBS sets the build parallelism (default 2). Exits non-zero on the first sanitizer report. Prints the wall and
# CPU time of the build and of the tests.
set -euo pipefail
kind=${1:-}
case "$kind" in
  asan|tsan) shift ;;
  *) echo "usage: $0 asan|tsan [extra cmake -D arguments]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LN4J_SANITIZE_BUILD:-$root/target/sanitize-$kind}
extra=()
# The CUDA emulation test switches coroutine stacks by hand, which ThreadSanitizer cannot follow, and carries its own
# -fsanitize=address (incompatible with thread): left out of the tsan build (it runs one block at a time anyway).
if [ "$kind" = tsan ]; then extra+=(-DLN4J_CUDA_EMULATION_TEST=OFF); fi
TIMEFORMAT="%R s wall, %U s user + %S s system CPU"
echo "sanitize.sh $kind: configure + build in $build"
time {
  cmake -S "$root/native" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLN4J_SANITIZE="$kind" \
    -DLN4J_CUDA=OFF -DLN4J_BUILD_BENCH=OFF -DLN4J_BUILD_TESTS=ON "${extra[@]}" "$@"
  cmake --build "$build" --parallel "${LN4J_JOBS:-2}"
}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
echo "sanitize.sh $kind: ctest"
time ctest --test-dir "$build" --output-on-failure
# what the tests counted and skipped (their output is in the log even when they pass)
grep -h -E ' checks, [0-9]+ failures|skipped' "$build/Testing/Temporary/LastTest.log" || true
echo "sanitize.sh $kind: ctest passed"
