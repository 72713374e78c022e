#!/usr/bin/env bash
# deploy/nginx/voxpipe.conf in front of two instances and the emulator:
# calls spread over both (by each instance's calls_total), the streams reach
# the instance named in their path, and a SIGTERM to one instance with calls
# on it drops none of them. The shipped server block is used as it is, with
# its ports, addresses and TLS lines rewritten for loopback. Skipped (exit 77)
# without nginx.
#   nginx_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
if ! command -v nginx > /dev/null; then
  echo "SKIP: nginx not installed (Debian package nginx)"
  exit 77
fi
bin=$build/bin
work=$(mktemp -d)
groups=()
cleanup() {
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2> /dev/null; done
  wait 2> /dev/null
  [ "${failed:-1}" != 0 ] && for f in "$work"/*.log; do echo "--- $f"; tail -n 15 "$f"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failed=1
fail() { echo "FAIL: $*"; exit 1; }

read -r emu fe p1 p2 a1 a2 <<< "$(python3 -c 'import socket
s=[socket.socket() for _ in range(6)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"
port=([1]=$p1 [2]=$p2) admin=([1]=$a1 [2]=$a2)

setsid "$bin/gemini-emulator" --address 127.0.0.1 --port "$emu" \
  --scenario "$src/tests/data/emulator/sutherland_general.yaml" > "$work/emulator.log" 2>&1 &
groups+=($!)
declare -A pid
for n in 1 2; do
  env PORT="${port[$n]}" ADMIN_PORT="${admin[$n]}" INSTANCE="vp$n" STREAM_SECRET=shared MAX_CALLS=10 \
    DRAIN_TIMEOUT=20s GEMINI_API_KEY=k TWILIO_AUTH_TOKEN=test-auth-token MESSAGES_FILE="$work/messages.jsonl" \
    GEMINI_LIVE_URL="ws://127.0.0.1:$emu/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent" \
    setsid "$bin/voxpipe" run "$src/pipelines/twilio_gemini.yaml" > "$work/vp$n.log" 2>&1 &
  pid[$n]=$!
  groups+=($!)
done
for n in 1 2; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${port[$n]}/health/ready" > /dev/null && break; sleep 0.1; done
done

sed -e "s|127.0.0.1:8091|127.0.0.1:$p1|g; s|127.0.0.1:8092|127.0.0.1:$p2|g; /127.0.0.1:8093/d" \
    -e "s|listen 443 ssl;|listen 127.0.0.1:$fe;|; /ssl_certificate/d" \
    -e "s|/etc/nginx/voxpipe_retry.conf|$src/deploy/nginx/voxpipe_retry.conf|g" \
    "$src/deploy/nginx/voxpipe.conf" > "$work/voxpipe.conf"
cat > "$work/nginx.conf" << EOF
daemon off;
pid $work/nginx.pid;
error_log $work/nginx_error.log info;
events {}
http {
  access_log $work/access.log;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  include $work/voxpipe.conf;
}
EOF
setsid nginx -c "$work/nginx.conf" -e "$work/nginx_error.log" > "$work/nginx.log" 2>&1 &
groups+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$fe/" && break; sleep 0.1; done

metric() { curl -s "http://127.0.0.1:${admin[$1]}/metrics" | awk -v m="$2" '$1==m {v=$2} END {print v+0}'; }
calls() {  # N RAMP OUT
  "$bin/voxpipe" call "http://127.0.0.1:$fe" --calls "$1" --ramp "$2" --fast --quiet --auth-token test-auth-token > "$3" 2>&1
}

calls 6 1 "$work/spread.out" || { cat "$work/spread.out"; fail "spread: a call failed"; }
c1=$(metric 1 voxpipe_twilio_calls_total) c2=$(metric 2 voxpipe_twilio_calls_total)
echo "nginx spread: placed 6, $(grep -oE '[0-9]+ ok' "$work/spread.out") (calls vp1 $c1, vp2 $c2)"
[ "$c1" -ge 1 ] && [ "$c2" -ge 1 ] || fail "spread: an instance got no call"
[ $((c1 + c2)) = 6 ] || fail "spread: the instances took $((c1 + c2)) calls for 6 placed"

calls 6 3 "$work/rolling.out" &
caller=$!
for _ in $(seq 100); do [ "$(metric 1 voxpipe_twilio_active_calls)" -ge 1 ] && break; sleep 0.05; done
[ "$(metric 1 voxpipe_twilio_active_calls)" -ge 1 ] || fail "rolling: no call on vp1"
kill -TERM "${pid[1]}"
wait "$caller" || { cat "$work/rolling.out"; fail "rolling: a call failed"; }
wait "${pid[1]}" || fail "rolling: vp1 did not exit 0 after its drain"
echo "nginx rolling: placed 6, $(grep -oE '[0-9]+ ok' "$work/rolling.out"), vp1 refused" \
  "$(grep -c 'refusing call' "$work/vp1.log") webhooks while draining (nginx retried them)"
failed=0
echo "nginx test: ok"
