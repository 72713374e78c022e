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
         include/voxpipe/framework/processor.h lib/cmake/voxpipe/voxpipeConfig.cmake bin/gemini-emulator; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done

cd /  # nothing relative to the source or build tree
unset LD_LIBRARY_PATH
export GEMINI_API_KEY=test-key
"$prefix/bin/voxpipe" --version
"$prefix/bin/voxpipe" check "$prefix/share/voxpipe/pipelines/twilio_gemini.yaml"
"$prefix/bin/voxpipe" check "$prefix/share/voxpipe/pipelines/twilio_echo.yaml"
"$prefix/bin/gemini-emulator" --help > /dev/null
echo "install test: ok ($prefix)"
