# Sourced by the browser tests (run.sh, pipecat_client_run.sh) and
# scripts/demo-browser.sh: the npm cache, and the emulator and voxpipe
# started on free ports and stopped on exit.
#
#   source tests/browser/common.sh
#   browser_tools_or_skip                # exit 77 without chromium, node, npm
#   browser_npm_install PKG...           # into $browser_cache; exit 77 when npm cannot
#   start_emulator BUILD SCENARIO        # sets model_url
#   start_voxpipe BUILD SRC [VAR=VALUE...]  # browser_gemini.yaml; sets browser_port
#
# Every process started here is killed by browser_cleanup (an EXIT trap
# that also removes $browser_work).

browser_cache=${VOXPIPE_NPM_CACHE:-$HOME/.cache/voxpipe-browser-test}
browser_work=$(mktemp -d)
browser_pids=()

browser_cleanup() {
  local p
  for p in "${browser_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$browser_work"
}
trap browser_cleanup EXIT

browser_tools_or_skip() {
  local tool
  for tool in chromium node npm; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup.sh)"; exit 77; }
  done
}

# Installs what is missing, and an exact version (x.y.z) that differs from
# the one in the cache. The lock keeps two tests run at once (ctest -j) from
# installing into the same directory together, and makes the second see
# what the first installed.
browser_npm_install() {
  mkdir -p "$browser_cache"
  local missing=() spec name version json lock
  exec {lock}>"$browser_cache/.lock"
  flock "$lock"
  for spec in "$@"; do
    name=${spec%@*}
    version=${spec##*@}
    json=$browser_cache/node_modules/$name/package.json
    if [ ! -f "$json" ]; then
      missing+=("$spec")
    elif [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] && ! grep -q "\"version\": *\"$version\"" "$json"; then
      missing+=("$spec")
    fi
  done
  if [ ${#missing[@]} -gt 0 ] && ! npm install --prefix "$browser_cache" --silent --no-audit --no-fund \
      "${missing[@]}" >"$browser_work/npm.log" 2>&1; then
    echo "SKIP: cannot install ${missing[*]} from npm:"
    tail -5 "$browser_work/npm.log"
    exit 77
  fi
  exec {lock}>&-
}

# wait_for_log FILE TEXT: until a line with TEXT shows up (10 s at most).
wait_for_log() {
  local _
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "FAIL: timed out waiting for '$2' in $1"
  cat "$1"
  return 1
}

start_emulator() {
  "$1/bin/gemini-emulator" --port 0 --scenario "$2" >"$browser_work/emulator.log" 2>&1 &
  browser_pids+=($!)
  emulator_pid=$!
  wait_for_log "$browser_work/emulator.log" "listening on"
  model_url=$(grep -o 'ws://[^ ]*' "$browser_work/emulator.log" | head -1)
}

# Stops the emulator, which then prints what it saw; sets emulator_summary
# to that line ("sessions: N, refused: N, replies: N, interruptions: N, ...").
# Not in a $(...) subshell: only this shell can wait for the emulator.
stop_emulator() {
  kill "$emulator_pid" 2>/dev/null || true
  wait "$emulator_pid" 2>/dev/null || true
  emulator_summary=$(grep "^sessions:" "$browser_work/emulator.log" || true)
}

# Runs from SRC so that the pipeline's relative paths (prompts/, knowledge/,
# web/) are the source tree's; extra VAR=VALUE settings go into its environment.
start_voxpipe() {
  local build=$1 src=$2
  shift 2
  (cd "$src" && exec env PORT=0 ADMIN_PORT=0 GEMINI_API_KEY=any GEMINI_LIVE_URL="$model_url" "$@" \
    "$build/bin/voxpipe" run pipelines/browser_gemini.yaml) >"$browser_work/server.log" 2>&1 &
  browser_pids+=($!)
  wait_for_log "$browser_work/server.log" "browser server listening on"
  browser_port=$(grep -o 'browser server listening on [0-9.]*:[0-9]*' "$browser_work/server.log" | grep -o '[0-9]*$')
}
