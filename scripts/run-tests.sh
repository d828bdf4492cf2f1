#!/usr/bin/env bash
# Runs every suite: all ctest suites in the sanitizer build (AddressSanitizer
# + UndefinedBehaviorSanitizer; any report aborts the test and fails the
# run), then the compatibility suite with real Zeebe clients against the
# optimised daemon.
#
#   scripts/run-tests.sh BUILD_DIR ASAN_BUILD_DIR
set -uo pipefail
build=${1:-build}
asan=${2:-build-asan}
root=$(cd "$(dirname "$0")/.." && pwd)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export CHUTE_TEST_PARALLEL=${CHUTE_TEST_PARALLEL:-2}

failed=0
echo "== unit, integration and crash suites (ASan + UBSan build: $asan)"
if ! (cd "$asan" && ctest --output-on-failure -j "$CHUTE_TEST_PARALLEL" --timeout 600); then
  failed=1
fi

if [ -x "$root/tests/compat/run.sh" ]; then
  echo "== compatibility suite: real zbctl, zeebe-node and @camunda8/sdk against $build/src/server/chuted"
  if ! "$root/tests/compat/run.sh" "$(cd "$build" && pwd)/src/server/chuted"; then
    failed=1
  fi
fi

if [ $failed -ne 0 ]; then
  echo "make test: FAILED"
  exit 1
fi
echo "make test: all suites passed"
