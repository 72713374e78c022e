#!/usr/bin/env bash
# `cmake --install` to a temporary prefix gives a tree that runs: the installed
# voxpipe finds libvoxpipe through its RUNPATH and checks the installed
# pipelines from another working directory.
#   install_test.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" > "$prefix.log" 2>&1 || { cat "$prefix.log"; exit 1; }
rm -f "$prefix.log"

readelf -d "$prefix/bin/voxpipe" | grep -E 'RUNPATH|RPATH' | grep -q '\$ORIGIN/../lib' ||
  { echo "FAIL: bin/voxpipe has no \$ORIGIN/../lib RUNPATH"; readelf -d "$prefix/bin/voxpipe" | grep PATH; exit 1; }
for f in share/voxpipe/pipelines/twilio_gemini.yaml share/voxpipe/pipelines/prompts/sutherland_general.md \
         share/voxpipe/pipelines/knowledge/sutherland_general.yaml share/voxpipe/emulator/sutherland_general.yaml \
         share/voxpipe/audio/assistant_greeting_24k.wav share/voxpipe/deploy/systemd/voxpipe.service \
         share/doc/voxpipe/operations.md share/voxpipe/deploy/haproxy/haproxy.cfg \
         include/voxpipe/framework/processor.h lib/cmake/voxpipe/voxpipeConfig.cmake bin/gemini-emulator; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done

cd /  # nothing relative to the source or build tree
unset LD_LIBRARY_PATH
export GEMINI_API_KEY=test-key
"$prefix/bin/voxpipe" --version
"$prefix/bin/voxpipe" check "$prefix/share/voxpipe/pipelines/twilio_gemini.yaml"
"$prefix/bin/voxpipe" check "$prefix/share/voxpipe/pipelines/twilio_echo.yaml"
# The installed scenarios find their audio (../audio): the emulator loads
# every WAV before it listens, and stops at once when one is missing.
"$prefix/bin/gemini-emulator" --port 0 --scenario "$prefix/share/voxpipe/emulator/sutherland_general.yaml" \
  > "$prefix/emulator.log" 2>&1 &
emulator=$!
for _ in $(seq 100); do
  grep -q listening "$prefix/emulator.log" && break
  kill -0 "$emulator" 2> /dev/null || break
  sleep 0.1
done
grep -q listening "$prefix/emulator.log" || { cat "$prefix/emulator.log"; kill "$emulator" 2> /dev/null; echo "FAIL: the installed emulator scenario did not load"; exit 1; }
kill "$emulator"
wait "$emulator" 2> /dev/null
echo "install test: ok ($prefix)"
