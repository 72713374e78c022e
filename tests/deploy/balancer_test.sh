#!/usr/bin/env bash
# voxpipe behind the real balancer: deploy/haproxy/haproxy.cfg (the shipped
# file, pointed at loopback ports through its variables) in front of three
# instances of pipelines/twilio_gemini.yaml, all talking to one
# gemini-emulator, with `voxpipe call` as Twilio. Faults:
#   spread    calls spread over the instances
#   full      an instance at max_calls gets no new calls
#   rolling   SIGTERM to an instance with calls on it: they finish, new calls
#             go to the others, no caller hears "busy"
#   sigkill   SIGKILL to an instance with calls on it: its calls end; the
#             next calls, placed at once, are answered by the others
# Prints calls placed/answered/dropped per fault. Skipped (exit 77) without haproxy.
#   balancer_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
if ! command -v haproxy > /dev/null; then
  echo "SKIP: haproxy not installed (Debian package haproxy; scripts/setup.sh installs it)"
  exit 77
fi
bin=$build/bin
work=$(mktemp -d)
groups=()  # process group ids (each service runs under setsid)
cleanup() {
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2> /dev/null; done
  wait 2> /dev/null
  if [ "${failed:-1}" != 0 ]; then
    for f in "$work"/*.log; do echo "--- $f (tail)"; tail -n 25 "$f"; done
  fi
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failed=1

fail() { echo "FAIL: $*"; exit 1; }

# Ports the kernel picks as free (bound to port 0, then released).
free_ports() {
  python3 -c 'import socket,sys
socks=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
read -r emu_port fe_port stats_port p1 p2 p3 a1 a2 a3 <<< "$(free_ports 9)"
port=([1]=$p1 [2]=$p2 [3]=$p3)
admin=([1]=$a1 [2]=$a2 [3]=$a3)
max_calls=([1]=10 [2]=10 [3]=1)  # vp3 is full with one call
secret=stream-secret-shared-by-all
check_inter=300ms

setsid "$bin/gemini-emulator" --address 127.0.0.1 --port "$emu_port" \
  --scenario "$src/tests/data/emulator/sutherland_general.yaml" > "$work/emulator.log" 2>&1 &
groups+=($!)

declare -A pid
start_instance() {  # N
  local n=$1
  env PORT="${port[$n]}" ADMIN_PORT="${admin[$n]}" INSTANCE="vp$n" STREAM_SECRET="$secret" \
    MAX_CALLS="${max_calls[$n]}" DRAIN_TIMEOUT=20s GEMINI_API_KEY=test-key \
    GEMINI_LIVE_URL="ws://127.0.0.1:$emu_port/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent" \
    MESSAGES_FILE="$work/messages.jsonl" TWILIO_AUTH_TOKEN=test-auth-token \
    setsid "$bin/voxpipe" --log-format json run "$src/pipelines/twilio_gemini.yaml" >> "$work/vp$n.log" 2>&1 &
  pid[$n]=$!
  groups+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:${port[$n]}/health/ready" > /dev/null && return 0
    sleep 0.1
  done
  fail "instance vp$n not ready"
}

cat > "$work/stats.cfg" << EOF
frontend stats
  bind 127.0.0.1:$stats_port
  stats enable
  stats uri /stats
EOF
for n in 1 2 3; do start_instance "$n"; done
VOXPIPE_BIND="127.0.0.1:$fe_port" VOXPIPE_1="127.0.0.1:$p1" VOXPIPE_2="127.0.0.1:$p2" VOXPIPE_3="127.0.0.1:$p3" \
  CHECK_INTER=$check_inter setsid haproxy -db -f "$src/deploy/haproxy/haproxy.cfg" -f "$work/stats.cfg" \
  > "$work/haproxy.log" 2>&1 &
groups+=($!)

# HAProxy's view of vpN in the webhooks backend: UP, DOWN, ...
state() { curl -s "http://127.0.0.1:$stats_port/stats;csv" | awk -F, -v s="vp$1" '$1=="webhooks" && $2==s {print $18}'; }
wait_state() {  # N STATE
  for _ in $(seq 100); do
    [[ "$(state "$1")" == "$2"* ]] && return 0
    sleep 0.1
  done
  fail "vp$1 is $(state "$1") in HAProxy, expected $2"
}
metric() {  # N NAME: a counter or gauge from vpN's admin /metrics (0 when absent)
  curl -s "http://127.0.0.1:${admin[$1]}/metrics" | awk -v m="$2" '$1==m {v=$2} END {print v+0}'
}
wait_active() {  # N: until vpN has a call on it
  for _ in $(seq 100); do
    [ "$(metric "$1" voxpipe_twilio_active_calls)" -ge 1 ] && return 0
    sleep 0.05
  done
  fail "no call reached vp$1"
}
for n in 1 2 3; do wait_state "$n" UP; done

# Calls through the balancer in the background: call_start NAME N RAMP; call_end NAME
call_start() {
  : > "$work/call_$1.out"
  "$bin/voxpipe" call "http://127.0.0.1:$fe_port" --calls "$2" --ramp "$3" --fast --quiet \
    --auth-token test-auth-token > "$work/call_$1.out" 2>&1 &
  call_pid[$1]=$!
  call_placed[$1]=$2
  call_mark[$1]=$(wc -l < "$work/haproxy.log")
}
declare -A call_pid call_placed call_mark call_last call_rc
call_end() {
  wait "${call_pid[$1]}"
  call_rc[$1]=$?
  sleep 0.2  # HAProxy logs a request when it ends
  call_last[$1]=$(wc -l < "$work/haproxy.log")
}
answered() {  # NAME: calls that went well, from the summary ("N ok"), else from the exit status
  local ok
  ok=$(grep -oE '[0-9]+ ok' "$work/call_$1.out" | head -1 | cut -d' ' -f1)
  if [ -z "$ok" ]; then
    if [ "${call_rc[$1]}" = 0 ]; then ok=${call_placed[$1]}; else ok=0; fi
  fi
  echo "$ok"
}
batch_log() {  # NAME: HAProxy's log lines from the batch's start to its end
  sed -n "$((call_mark[$1] + 1)),${call_last[$1]}p" "$work/haproxy.log"
}
wait_webhooks() {  # NAME N: until HAProxy has logged N voice webhooks of the batch
  for _ in $(seq 100); do
    [ "$(tail -n +"$((call_mark[$1] + 1))" "$work/haproxy.log" | grep -c '"POST /twilio/voice')" -ge "$2" ] && return 0
    sleep 0.05
  done
  fail "$1: fewer than $2 webhooks"
}
webhooks_on() {  # NAME N: voice webhooks HAProxy gave to vpN during the batch
  batch_log "$1" | grep -c "webhooks/vp$2 .*\"POST /twilio/voice"
}
busy_answers() {  # NAME: voice webhooks that reached the caller as 503 (busy/draining) or a balancer error
  batch_log "$1" | grep "\"POST /twilio/voice" | grep -cE ' (5[0-9][0-9]) [0-9]+ '
}
retried() {  # NAME: voice webhooks HAProxy retried (the last counter of "actconn/feconn/beconn/srvconn/retries")
  batch_log "$1" | grep '"POST /twilio/voice' | grep -cE ' [0-9]+/[0-9]+/[0-9]+/[0-9]+/\+?[1-9][0-9]* '
}
report() {  # NAME: one line of figures
  local ok placed=${call_placed[$1]}
  ok=$(answered "$1")
  echo "fault $1: placed $placed answered $ok dropped $((placed - ok)) busy $(busy_answers "$1")" \
    "(webhooks vp1 $(webhooks_on "$1" 1), vp2 $(webhooks_on "$1" 2), vp3 $(webhooks_on "$1" 3))"
}
all_answered() {
  [ "$(answered "$1")" = "${call_placed[$1]}" ] && [ "${call_rc[$1]}" = 0 ] ||
    { cat "$work/call_$1.out"; fail "$1: not every call was answered"; }
  [ "$(busy_answers "$1")" = 0 ] || fail "$1: a caller got a busy or error answer"
}

# spread: leastconn over three ready instances.
call_start spread 9 1.5
call_end spread
report spread
all_answered spread
for n in 1 2 3; do [ "$(webhooks_on spread "$n")" -ge 1 ] || fail "spread: vp$n got no call"; done

# full: a long call straight to vp3 (max_calls 1) makes it full, readiness
# says 503, HAProxy takes it out; calls through the balancer avoid it.
"$bin/voxpipe" call "http://127.0.0.1:$p3" --fast --quiet --tail 6 --auth-token test-auth-token \
  > "$work/call_hold.out" 2>&1 &
hold=$!
wait_active 3
wait_state 3 DOWN
call_start full 6 1
call_end full
report full
all_answered full
[ "$(webhooks_on full 3)" = 0 ] || fail "full: vp3 at max_calls got a webhook"
wait "$hold" || { cat "$work/call_hold.out"; fail "full: the call that held vp3 failed"; }
wait_state 3 UP

# rolling: SIGTERM vp1 while it has calls; they finish, the drain ends the
# process with status 0, new calls go to vp2 and vp3. Then vp1 comes back.
call_start rolling 8 3
wait_active 1
kill -TERM "${pid[1]}"
call_end rolling
wait "${pid[1]}"
rc=$?
report rolling
echo "  vp1 while draining refused $(grep -c 'refusing call' "$work/vp1.log") webhooks; HAProxy retried" \
  "$(retried rolling) webhooks on another instance (a full or draining one answered 503)"
all_answered rolling
[ "$rc" = 0 ] || fail "rolling: vp1 exited with $rc after the drain"
start_instance 1
wait_state 1 UP

# sigkill: vp2 dies with calls on it; its streams end, and a batch placed at
# once, before a health check can notice, is answered by vp1 and vp3 (HAProxy
# retries a refused connection on another server). `voxpipe call` counts a
# stream the server closed as a call that ended, so the calls cut off are
# counted on vp2 (its active calls just before the kill).
call_start sigkill 6 1
wait_webhooks sigkill 6
on_vp2=$(metric 2 voxpipe_twilio_active_calls)
kill -KILL "${pid[2]}"
call_last[sigkill]=$(wc -l < "$work/haproxy.log")
call_start after_kill 6 1
wait "${call_pid[sigkill]}"
call_rc[sigkill]=$?
call_end after_kill
echo "fault sigkill: placed ${call_placed[sigkill]}, cut off on vp2 $on_vp2," \
  "finished $(( ${call_placed[sigkill]} - on_vp2 )) (webhooks vp1 $(webhooks_on sigkill 1)," \
  "vp2 $(webhooks_on sigkill 2), vp3 $(webhooks_on sigkill 3))"
report after_kill
echo "  HAProxy retried $(retried after_kill) webhooks of after_kill on another instance"
[ "$on_vp2" -ge 1 ] || fail "sigkill: vp2 had no call when it was killed"
[ "$(webhooks_on sigkill 2)" -ge "$on_vp2" ] || fail "sigkill: vp2 had calls HAProxy did not give it"
all_answered after_kill
[ "$(webhooks_on after_kill 2)" = 0 ] || fail "after_kill: a webhook was logged as answered by dead vp2"

failed=0
echo "balancer test: ok"
