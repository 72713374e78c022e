#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with Clang in build-fuzz/ and runs
# each for SECONDS (default 30), starting from its seed corpus
# (tests/fuzz/corpus/TARGET). Fails when a target crashes, leaks, hits
# undefined behaviour or times out; the input is kept in
# build-fuzz/artifacts/. Prints the executions per target.
#   scripts/fuzz.sh [SECONDS]          every target
#   FUZZ_TARGETS="url base64" scripts/fuzz.sh 10
# Replaying one input: build-fuzz/bin/fuzz_TARGET FILE
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
root=$(pwd)

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  configure=(-DVOXPIPE_FUZZ=ON -DVOXPIPE_BUILD_TESTS=OFF -DVOXPIPE_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=
             "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only" "-DCMAKE_C_FLAGS=-O1 -gline-tables-only")  # quick to build: CI builds it cold
  command -v ninja >/dev/null && configure+=(-G Ninja)
  command -v ccache >/dev/null && configure+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" "${configure[@]}"
fi
cmake --build "$build_dir" --target fuzz_all --parallel "$(nproc)"

targets=${FUZZ_TARGETS:-$(ls tests/fuzz/corpus)}
mkdir -p "$build_dir/artifacts" "$build_dir/corpus"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
summary=()
for target in $targets; do
  binary="$root/$build_dir/bin/fuzz_$target"
  [ -x "$binary" ] || { echo "fuzz: no target $target" >&2; exit 2; }
  # New inputs go to build-fuzz/corpus/TARGET; the checked-in seeds stay as they are.
  mkdir -p "$build_dir/corpus/$target" "$scratch/$target"
  log="$build_dir/artifacts/$target.log"
  echo "fuzz: $target for ${seconds}s"
  set +e
  # From an empty directory: a pipeline file may name files to read or write.
  (cd "$scratch/$target" && TMPDIR="$scratch/$target" \
     ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
     -artifact_prefix="$root/$build_dir/artifacts/$target-" \
     "$root/$build_dir/corpus/$target" "$root/tests/fuzz/corpus/$target") >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    failed+=("$target")
    echo "fuzz: $target FAILED (exit $rc); log $log" >&2
    grep -E "ERROR|runtime error|parsers disagree|Test unit written" "$log" | head -20 >&2 || true
  fi
  summary+=("$(printf '%-22s %12s executions %8s/s %s' "$target" "${execs:-?}" "${rate:-?}" \
              "$([ $rc -eq 0 ] && echo ok || echo FAILED)")")
done
echo "fuzz: ${seconds}s per target"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
