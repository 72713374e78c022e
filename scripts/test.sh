#!/usr/bin/env bash
# Installs what is needed (Debian 12, as root), builds, and runs every test.
#   scripts/test.sh              the normal build, in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UBSan build, in build-asan/
#   scripts/test.sh --tsan       ThreadSanitizer build, in build-tsan/: the tests
#                                of what runs on several threads (runtime, servers,
#                                Twilio, Gemini, browser, recordings, the runner)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

if [ "${1:-}" = "--sanitize" ]; then
  export BUILD_DIR=build-asan
  # Memory errors, leaks and undefined behaviour fail the test.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  scripts/build.sh -DVOXPIPE_SANITIZE=ON -DVOXPIPE_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Debug
elif [ "${1:-}" = "--tsan" ]; then
  export BUILD_DIR=build-tsan
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  scripts/build.sh -DVOXPIPE_TSAN=ON -DVOXPIPE_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
  exec ctest --test-dir "$BUILD_DIR" --output-on-failure --parallel "$(nproc)" --timeout 300 \
    -R 'Runtime|Server|WebSocket|Http|Twilio|Gemini|Browser|Recording|Early|Prewarm|Fallback|HospitalLine|VoxpipeCli|Echo'
else
  export BUILD_DIR=build
  scripts/build.sh
fi
ctest --test-dir "$BUILD_DIR" --output-on-failure --parallel "$(nproc)" --timeout 300
