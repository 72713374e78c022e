#!/usr/bin/env bash
# The page in headless Chromium against `voxpipe run pipelines/browser_gemini.yaml`
# and the Gemini emulator, the microphone a WAV file in which the caller
# asks again while the answer plays (page_test.mjs checks the page, and
# times the barge-in). Exits 77 (skipped) when chromium, node or npm is
# missing.
# Usage: run.sh BUILD_DIR [SCREENSHOT]
set -euo pipefail
build=$(cd "$1" && pwd)
shot=${2:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/tests/browser
source "$here/common.sh"
browser_tools_or_skip
browser_npm_install puppeteer-core@22

start_emulator "$build" "$here/page_scenario.yaml"
# A 300 ms lead: a page that did not flush its player on barge-in would play
# on for that long, well past the 100 ms page_test.mjs allows.
start_voxpipe "$build" "$src" AUDIO_LEAD=300ms

cp "$here/page_test.mjs" "$browser_cache/page_test.mjs"
node "$browser_cache/page_test.mjs" "http://127.0.0.1:$browser_port/" "$(command -v chromium)" \
  "$src/tests/data/audio/caller_barge_in_16k.wav" --barge-in ${shot:+--screenshot "$shot"} ||
  { echo "--- server log"; tail -30 "$browser_work/server.log"; exit 1; }
# The model heard the fake microphone: it answered, and was interrupted.
stop_emulator
echo "emulator: $emulator_summary"
[[ $emulator_summary =~ replies:\ [1-9].*interruptions:\ [1-9] ]] ||
  { echo "FAIL: the emulator did not answer and get interrupted"; cat "$browser_work/emulator.log"; exit 1; }
echo "page test passed"
