#!/usr/bin/env bash
# The main job: installs what is needed (Debian 12, as root), builds, and
# places a complete simulated phone call with no accounts:
#
#   caller WAV --(voxpipe call: acts as Twilio)--> voxpipe run pipelines/twilio_gemini.yaml
#              <-- what the caller hears --        --> Gemini Live emulator (local)
#
# The assistant greets, the caller asks about visiting hours, the model looks
# them up in the knowledge file and answers; the caller listens to the end.
# It prints the call's timeline and latencies, and leaves what the caller
# heard in build/out/caller_heard.wav, the call's recording (both sides'
# audio and a JSON-lines transcript of its events) in build/out/recordings/,
# and pictures of the call: build/out/call.html (the caller's side) and
# build/out/recordings/DATE/CALL.html (the server's record, with tool calls).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p build/out

wait_for() {  # wait_for FILE TEXT: until a log line shows up (20 s at most)
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Both servers take a free port (0) and say which in their logs.
stdbuf -oL -eL build/bin/gemini-emulator --port 0 --scenario tests/data/emulator/sutherland_general.yaml \
  > build/out/emulator.log 2>&1 &
pids+=($!)
wait_for build/out/emulator.log "listening on"
model_url=$(grep -o 'ws://[^ ]*' build/out/emulator.log | head -1)
echo "== Gemini Live emulator at $model_url (tests/data/emulator/sutherland_general.yaml)"

rm -rf build/out/recordings
PORT=0 ADMIN_PORT=0 GEMINI_API_KEY=demo-key GEMINI_LIVE_URL="$model_url" RECORDINGS_DIR=build/out/recordings \
  MESSAGES_FILE=build/out/messages.jsonl \
  build/bin/voxpipe run pipelines/twilio_gemini.yaml > build/out/server.log 2>&1 &
server=$!
pids+=($server)
wait_for build/out/server.log "twilio server listening"
line_port=$(grep -o 'twilio server listening on [^ ]*' build/out/server.log | head -1 | sed 's/.*://')
echo "== voxpipe run pipelines/twilio_gemini.yaml on 127.0.0.1:$line_port"

wait_for build/out/server.log "admin listening"
admin_port=$(grep -o 'admin listening on [^ ]*' build/out/server.log | head -1 | sed 's/.*://')

echo "== voxpipe call: the caller waits for the greeting, asks about visiting hours, hears the answer"
build/bin/voxpipe call "http://127.0.0.1:$line_port" --script examples/calls/visiting_hours.yaml \
  --record build/out/caller_heard.wav --timeline build/out/call.html \
  --server-pid "$server" --admin "http://127.0.0.1:$admin_port"

# The server's record of the call, drawn: who spoke when, the tool call, the
# reply delays. Its files are complete once the call has ended.
record=""
for _ in $(seq 50); do
  record=$(find build/out/recordings -name '*.jsonl' | head -1)
  [ -n "$record" ] && grep -q '"call_end"' "$record" && break
  sleep 0.1
done
echo
echo "== voxpipe timeline $record"
build/bin/voxpipe timeline "$record"

echo
echo "What the caller heard: build/out/caller_heard.wav"
echo "The call as the caller saw it: build/out/call.html"
echo "The call's recording, transcript and timeline:"
find build/out/recordings -type f | sort | sed 's/^/  /'
echo "Logs: build/out/server.log, build/out/emulator.log"
