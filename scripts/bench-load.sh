#!/usr/bin/env bash
# Side-by-side load benchmark: the phone line (voxpipe run
# pipelines/twilio_gemini.yaml) and the baseline Node bridge in ../shared/peer,
# each driven in turn by `voxpipe call --calls N` against the same Gemini Live
# emulator, with the same caller audio (20 s, three questions, each answered
# with 2 s of audio). Prints one table: CPU-seconds per call-minute (from
# /proc of the server's process group), peak RSS and RSS per call, the reply
# latency the callers saw, voxpipe's own media latency (its /metrics), and
# the ratio peer/voxpipe. A benchmark, not a test: run it on a quiet machine.
#
#   scripts/bench-load.sh                        # 100 calls, voxpipe with 1 and 2 loops, and the peer
#   scripts/bench-load.sh --calls 100,300 --threads 1,2
#   scripts/bench-load.sh --no-peer --bin /path/to/other/build/bin   # another build, e.g. before a change
#   scripts/bench-load.sh --batch-window 0       # voxpipe run --batch-window: 0 wakes for every message
#   scripts/bench-load.sh --loop-fill 256        # voxpipe run --loop-fill: pack connections onto the first loop
#   scripts/bench-load.sh --repeat 3             # every line three times, interleaved; medians compared
set -euo pipefail
cd "$(dirname "$0")/.."

calls_list=100
threads_list=1,2
seconds=20
ramp=5
run_peer=1
batch_window=""
loop_fill=""
repeat=1
bin=build/bin
peer_src=${PEER_DIR:-../shared/peer}
while [ $# -gt 0 ]; do
  case "$1" in
    --calls) calls_list=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --ramp) ramp=$2; shift 2 ;;
    --no-peer) run_peer=0; shift ;;
    --bin) bin=$2; shift 2 ;;
    --batch-window) batch_window=$2; shift 2 ;;
    --loop-fill) loop_fill=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench-load: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "bench-load: --repeat takes a whole number of runs (1 or more), not '$repeat'" >&2; exit 2; }
for tool in "$bin/voxpipe" "$bin/gemini-emulator"; do
  [ -x "$tool" ] || { echo "bench-load: $tool not found; build first (scripts/build.sh)" >&2; exit 1; }
done
command -v sox >/dev/null || { echo "bench-load: needs sox (scripts/setup.sh installs it)" >&2; exit 1; }

work=build/bench
mkdir -p "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_for() {  # wait_for FILE PATTERN: until a line matches (20 s at most)
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "bench-load: timed out waiting for '$2' in $1" >&2; tail -5 "$1" >&2; return 1
}

# CPU seconds of every process in a process group, from /proc.
group_cpu() {
  local total=0 ticks
  ticks=$(getconf CLK_TCK)
  for stat in /proc/[0-9]*/stat; do
    read -r -a f < "$stat" 2>/dev/null || continue
    # fields after the ")" of the command name: state is f[k], pgrp f[k+2], utime f[k+11], stime f[k+12]
    local k=2
    while [[ "${f[$((k-1))]}" != *")" ]]; do k=$((k+1)); done
    [ "${f[$((k+2))]}" = "$1" ] && total=$((total + f[k+11] + f[k+12]))
  done
  awk -v t="$total" -v h="$ticks" 'BEGIN { printf "%.3f", t / h }'
}
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18$((RANDOM % 900 + 100)); }

# The caller: three questions, each followed by silence while the answer plays.
caller=$work/caller_20s.wav
if [ ! -f "$caller" ]; then
  sox tests/data/audio/caller_visiting_hours_8k_mulaw.wav -e mu-law -r 8000 -c 1 "$caller" pad 0 2.9 repeat 2 trim 0 "$seconds"
fi
cat > "$work/scenario.yaml" <<'YAML'
# bench-load: every caller question is answered with 2 s of audio, streamed
# at four times real time in 40 ms chunks, as Gemini Live does.
api_key: ""
reply: {tone_duration: 2s, chunk: 40ms, speed: 4, transcript: "Visiting hours are nine to eight."}
turn: {threshold_dbfs: -40, end_silence: 500ms}
YAML

stdbuf -oL -eL setsid "$bin/gemini-emulator" --port 0 --scenario "$work/scenario.yaml" > "$work/emulator.log" 2>&1 &
pids+=($!)
wait_for "$work/emulator.log" "listening on"
model_url=$(grep -o 'ws://[^ ]*' "$work/emulator.log" | head -1)
model_base=http${model_url#ws}; model_base=${model_base%%/ws/*}

results=()
# run_line NAME LOOPS CALLS PGID PID PORT [ADMIN_URL]: drives one server, appends a result row
# for run $round.
run_line() {
  local name=$1 loops=$2 calls=$3 pgid=$4 pid=$5 port=$6 admin=${7:-} out cpu0 cpu1 rss0 peak
  rss0=$(rss_kib "$pid")
  cpu0=$(group_cpu "$pgid")
  out=$("$bin/voxpipe" call "http://127.0.0.1:$port" --audio "$caller" --calls "$calls" --ramp "$ramp" --tail 1 --quiet \
    ${admin:+--admin "$admin"} 2>&1) || true
  cpu1=$(group_cpu "$pgid")
  peak=$(peak_rss_kib "$pid")
  echo "$out" > "$work/$name-$loops-$calls-$round.txt"
  local ok reply media_in media_out cpm
  ok=$(echo "$out" | sed -n 's/.*: \([0-9]*\) ok, \([0-9]*\) failed.*/\1/p' | head -1)
  reply=$(echo "$out" | sed -n 's/^reply latency: p50 \([0-9.]*\).*p99 \([0-9.]*\).*/\1 \/ \2/p')
  media_in=$(echo "$out" | sed -n 's/.*voxpipe_gemini_input_latency_seconds.*p50 <=\([0-9.e-]*\) ms  p99 <=\([0-9.e-]*\) ms.*/\1 \/ \2/p')
  media_out=$(echo "$out" | sed -n 's/.*voxpipe_twilio_output_latency_seconds.*p50 <=\([0-9.e-]*\) ms  p99 <=\([0-9.e-]*\) ms.*/\1 \/ \2/p')
  # Per minute of the calls that were answered: a line that refuses some
  # (full, or falling behind) did not carry them.
  cpm=$(awk -v a="$cpu0" -v b="$cpu1" -v n="${ok:-0}" -v s="$seconds" \
    'BEGIN { if (n > 0) printf "%.4f", (b - a) / (n * s / 60); else printf "n/a" }')
  results+=("$(printf '%-8s %5s %6s %4s %6s %9s %9s %10s %14s %14s %14s' "$name" "$loops" "$calls" "$round" "${ok:-0}" \
    "$cpm" "$((peak / 1024))" "$(( (peak - rss0) / (${ok:-0} > 0 ? ${ok:-0} : 1) ))" "${reply:-n/a}" "${media_in:-n/a}" "${media_out:-n/a}")")
  echo "  $name loops=$loops calls=$calls run=$round: ${ok:-0} ok, $cpm CPU-s per call-minute" >&2
}

IFS=, read -r -a calls_values <<< "$calls_list"
IFS=, read -r -a thread_values <<< "$threads_list"
peer_ready=0
if [ "$run_peer" = 1 ]; then
  if [ -f "$peer_src/peer-bridge.mjs" ] && command -v npm >/dev/null; then
    if [ ! -d "$work/peer/node_modules" ]; then
      rm -rf "$work/peer" && cp -r "$peer_src" "$work/peer" && chmod -R u+w "$work/peer"
      (cd "$work/peer" && npm ci --silent --no-audit --no-fund) > "$work/peer-install.log" 2>&1 && peer_ready=1 ||
        echo "bench-load: npm ci for the peer failed (see $work/peer-install.log); skipping it" >&2
    else
      peer_ready=1
    fi
  else
    echo "bench-load: no peer at $peer_src (or no npm); skipping it" >&2
  fi
fi

for calls in "${calls_values[@]}"; do
  # Rounds interleave the lines, so that a slow minute of the machine falls on
  # all of them rather than on one.
  for round in $(seq "$repeat"); do
    for loops in "${thread_values[@]}"; do
      echo "== voxpipe, $loops loop(s), $calls calls, run $round of $repeat" >&2
      PORT=0 ADMIN_PORT=0 MAX_CALLS=$((calls + 10)) GEMINI_API_KEY=bench GEMINI_LIVE_URL="$model_url" setsid "$bin/voxpipe" run \
        ${LINE:-pipelines/twilio_gemini.yaml} --threads "$loops" ${batch_window:+--batch-window "$batch_window"} \
        ${loop_fill:+--loop-fill "$loop_fill"} \
        > "$work/voxpipe.log" 2>&1 &
      server=$!
      pids+=($server)
      wait_for "$work/voxpipe.log" "twilio server listening"
      port=$(grep -o 'twilio server listening on [^ ]*' "$work/voxpipe.log" | head -1 | sed 's/.*://')
      admin=$(grep -o 'admin listening on [^ ]*' "$work/voxpipe.log" | head -1 | sed 's/.*://')
      run_line voxpipe "$loops" "$calls" "$server" "$server" "$port" ${admin:+"http://127.0.0.1:$admin"}
      kill -TERM "$server"; wait "$server" 2>/dev/null || true
    done
    if [ "$peer_ready" = 1 ]; then
      echo "== peer, $calls calls, run $round of $repeat" >&2
      port=$(free_port)
      PORT=$port GEMINI_API_KEY=bench GOOGLE_GEMINI_BASE_URL="$model_base" setsid node "$work/peer/peer-bridge.mjs" \
        > "$work/peer.log" 2>&1 &
      peer=$!
      pids+=($peer)
      for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
      run_line peer - "$calls" "$peer" "$peer" "$port"
      kill -TERM "$peer"; wait "$peer" 2>/dev/null || true
    fi
  done
done

echo
printf '%-8s %5s %6s %4s %6s %9s %9s %10s %14s %14s %14s\n' line loops calls run ok "CPU-s/min" "peak MiB" "KiB/call" \
  "reply p50/p99" "to model ms" "to caller ms"
printf '%s\n' "${results[@]}"
echo
echo "CPU-s/min: CPU seconds of the server's process group per minute of answered call. KiB/call: (peak RSS - idle"
echo "RSS) / answered calls."
echo "reply p50/p99 (ms): from the caller's last word to the first audio back, as the simulator heard it (includes"
echo "the emulator's 500 ms end-of-speech wait). to model / to caller: voxpipe's own p50 / p99 bucket bounds from"
echo "/metrics (Twilio frame in -> realtimeInput on the socket; model audio in -> media queued for Twilio)."
# Medians over the runs of each line (the one figure when --repeat is 1); the
# ratio sets the peer's median against the costlier voxpipe median.
printf '%s\n' "${results[@]}" | awk -v runs="$repeat" '
  $6 == "n/a" { next }
  {
    key = $1 " " $2 " " $3
    if (!(key in count)) order[++keys] = key
    cpm[key, ++count[key]] = $6 + 0
    if ($1 == "peer") { peer_key[$3] = key; if (!($3 in peer_ok) || $5 + 0 < peer_ok[$3]) peer_ok[$3] = $5 + 0 }
  }
  END {
    for (k = 1; k <= keys; k++) {  # each line sorted once: its median, lowest and highest
      key = order[k]; n = count[key]
      for (i = 1; i <= n; i++) v[i] = cpm[key, i]
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      mid[key] = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      low[key] = v[1]; high[key] = v[n]
      split(key, f, " ")
      if (f[1] != "peer" && mid[key] > worst[f[3]] + 0) worst[f[3]] = mid[key]
    }
    if (runs > 1) {
      print "median CPU-s/min over the runs (lowest - highest):"
      for (k = 1; k <= keys; k++) {
        split(order[k], f, " ")
        printf "  %-8s loops %-2s %5s calls: %.4f (%.4f - %.4f, %d runs)\n", f[1], f[2], f[3], mid[order[k]],
          low[order[k]], high[order[k]], count[order[k]]
      }
    }
    for (c in peer_key) if (worst[c] > 0 && mid[peer_key[c]] > 0)
      printf "peer/voxpipe CPU per call at %s calls: %.1fx (%s, against the costlier voxpipe line)%s\n", c,
        mid[peer_key[c]] / worst[c], (runs > 1 ? "medians" : "one run each"),
        (peer_ok[c] < c + 0 ? sprintf("; the peer answered only %d of %d in its worst run", peer_ok[c], c) : "")
  }'
