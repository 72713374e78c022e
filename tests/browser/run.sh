#!/usr/bin/env bash
# The page in headless Chromium against `voxpipe run pipelines/browser_gemini.yaml`
# and the Gemini emulator, the microphone a WAV file (page_test.mjs checks
# the page). Exits 77 (skipped) when chromium, node or npm is missing.
# Usage: run.sh BUILD_DIR [SCREENSHOT]
set -euo pipefail
build=$(cd "$1" && pwd)
shot=${2:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
for tool in chromium node npm; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup.sh)"; exit 77; }
done
cache=${VOXPIPE_NPM_CACHE:-$HOME/.cache/voxpipe-browser-test}
if [ ! -d "$cache/node_modules/puppeteer-core" ]; then
  mkdir -p "$cache"
  npm install --prefix "$cache" --silent --no-audit --no-fund puppeteer-core@22 >/dev/null 2>&1 ||
    { echo "SKIP: cannot install puppeteer-core from npm"; exit 77; }
fi
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$build/bin/gemini-emulator" --port 0 --scenario "$src/tests/browser/page_scenario.yaml" >"$work/emulator.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$work/emulator.log" && break; sleep 0.1; done
url=$(grep -o 'ws://[^ ]*' "$work/emulator.log" | head -1)
(cd "$src" && PORT=0 ADMIN_PORT=0 GEMINI_API_KEY=any GEMINI_LIVE_URL="$url" \
  exec "$build/bin/voxpipe" run pipelines/browser_gemini.yaml) >"$work/server.log" 2>&1 &
server=$!
pids+=($server)
for _ in $(seq 100); do grep -q "browser server listening on" "$work/server.log" && break; sleep 0.1; done
port=$(grep -o 'browser server listening on [0-9.]*:[0-9]*' "$work/server.log" | grep -o '[0-9]*$')
[ -n "$port" ] || { cat "$work/server.log"; exit 1; }
cp "$src/tests/browser/page_test.mjs" "$cache/page_test.mjs"
node "$cache/page_test.mjs" "http://127.0.0.1:$port/" "$(command -v chromium)" \
  "$src/tests/data/audio/caller_visiting_hours_16k.wav" "$shot"
# The model heard the fake microphone's speech and answered it.
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
grep -q "replies: [1-9]" "$work/emulator.log" || { echo "FAIL: the emulator heard no turn"; cat "$work/emulator.log"; exit 1; }
echo "page test passed"
