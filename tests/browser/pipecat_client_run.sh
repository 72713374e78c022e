#!/usr/bin/env bash
# Pipecat's own browser client (@pipecat-ai/client-js with
# @pipecat-ai/websocket-transport, from npm) in headless Chromium against
# `voxpipe run pipelines/browser_gemini.yaml` and the Gemini emulator, the
# microphone a WAV file (pipecat_client_test.mjs checks the client). The
# page is bundled with esbuild and served from another origin, which
# ALLOWED_ORIGINS admits. Exits 77 (skipped) when chromium, node or npm is
# missing or the packages cannot be installed.
# Usage: pipecat_client_run.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/tests/browser
source "$here/common.sh"
browser_tools_or_skip
# The versions the protocol reference was written from (its §7).
browser_npm_install puppeteer-core@22 @pipecat-ai/client-js@1.13.1 @pipecat-ai/websocket-transport@1.7.1 esbuild@0.28.2

page=$browser_work/page
mkdir -p "$page"
# Bundled where node_modules is, so that esbuild resolves the packages there.
cp "$here/pipecat_client_page.js" "$here/pipecat_client_test.mjs" "$browser_cache/"
"$browser_cache/node_modules/.bin/esbuild" "$browser_cache/pipecat_client_page.js" --bundle --format=esm \
  --log-level=warning --outfile="$page/page.js"
printf '<!doctype html><meta charset="utf-8"><title>Pipecat client test</title><link rel="icon" href="data:,"><script type="module" src="page.js"></script>\n' \
  >"$page/index.html"
node "$here/static_server.mjs" "$page" >"$browser_work/static.log" 2>&1 &
browser_pids+=($!)
wait_for_log "$browser_work/static.log" "serving on"
page_port=$(grep -o 'serving on [0-9]*' "$browser_work/static.log" | grep -o '[0-9]*$')

start_emulator "$build" "$here/pipecat_client_scenario.yaml"
start_voxpipe "$build" "$src" ALLOWED_ORIGINS="http://127.0.0.1:$page_port"

node "$browser_cache/pipecat_client_test.mjs" "http://127.0.0.1:$page_port/" "http://127.0.0.1:$browser_port/" \
  "$(command -v chromium)" "$src/tests/data/audio/caller_barge_in_16k.wav" ||
  { echo "--- server log"; tail -30 "$browser_work/server.log"; exit 1; }
# Both sessions reached the model, which heard the question, answered, and
# was interrupted by the question asked again.
stop_emulator
echo "emulator: $emulator_summary"
[[ $emulator_summary =~ sessions:\ ([0-9]+).*replies:\ ([0-9]+).*interruptions:\ ([0-9]+) ]] ||
  { echo "FAIL: no emulator summary"; cat "$browser_work/emulator.log"; exit 1; }
[ "${BASH_REMATCH[1]}" -ge 2 ] && [ "${BASH_REMATCH[2]}" -ge 2 ] && [ "${BASH_REMATCH[3]}" -ge 2 ] ||
  { echo "FAIL: expected a reply and an interruption in each of two sessions"; exit 1; }
echo "pipecat client test passed"
