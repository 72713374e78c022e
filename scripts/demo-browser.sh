#!/usr/bin/env bash
# The browser voice chat with no accounts: builds voxpipe if build/bin lacks
# it, starts the Gemini Live emulator and `voxpipe run
# pipelines/browser_gemini.yaml`, and prints the page's URL. Ctrl-C stops both.
#
#   scripts/demo-browser.sh            # open http://localhost:8090/ (PORT=...)
#   scripts/demo-browser.sh --check    # no human needed: see below
#
# The model is tests/browser/page_scenario.yaml: it answers every question
# with the visiting hours, streamed at twice real time, so speaking during
# the first half of an answer interrupts it. --check drives the page once
# in headless Chromium (tests/browser/page_test.mjs) with
# tests/data/audio/caller_barge_in_16k.wav as the microphone — the question,
# and the question again over the answer — and prints the transcripts, the
# first-audio latency and how long playback went on after the barge-in; it
# exits non-zero when any of that fails (77 without chromium, node or npm).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=${BUILD_DIR:-build}
check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: scripts/demo-browser.sh [--check]" >&2; exit 2 ;;
esac
[ -x "$build/bin/voxpipe" ] && [ -x "$build/bin/gemini-emulator" ] || BUILD_DIR=$build scripts/build.sh
build=$(cd "$build" && pwd)

source tests/browser/common.sh
trap 'exit 130' INT TERM  # so that the EXIT trap stops what was started

if $check; then
  browser_tools_or_skip
  browser_npm_install puppeteer-core@22
fi
start_emulator "$build" tests/browser/page_scenario.yaml
echo "== Gemini Live emulator at $model_url (tests/browser/page_scenario.yaml)"

if ! $check; then
  start_voxpipe "$build" "$src" PORT="${PORT:-8090}"
  echo "== voxpipe run pipelines/browser_gemini.yaml"
  echo
  echo "   Open http://localhost:$browser_port/ , press Start talking and ask something."
  echo "   Logs: $browser_work/server.log, $browser_work/emulator.log"
  echo "   Ctrl-C stops it."
  wait "${browser_pids[-1]}"
  exit
fi

start_voxpipe "$build" "$src"
echo "== voxpipe run pipelines/browser_gemini.yaml on 127.0.0.1:$browser_port"
echo "== headless Chromium, the microphone tests/data/audio/caller_barge_in_16k.wav"
cp tests/browser/page_test.mjs "$browser_cache/page_test.mjs"
node "$browser_cache/page_test.mjs" "http://127.0.0.1:$browser_port/" "$(command -v chromium)" \
  "$src/tests/data/audio/caller_barge_in_16k.wav" --barge-in | grep -v '^page:\|^{' ||
  { echo "demo: the check failed; server log:"; tail -30 "$browser_work/server.log"; exit 1; }
stop_emulator
echo "== the emulator: $emulator_summary"
