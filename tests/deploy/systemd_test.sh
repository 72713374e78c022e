#!/usr/bin/env bash
# deploy/systemd/voxpipe.service passes `systemd-analyze verify` (skipped,
# exit 77, where systemd-analyze is missing). The unit names
# /usr/local/bin/voxpipe; verify wants it to exist, so a copy points at the
# built runner instead.
#   systemd_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
if ! command -v systemd-analyze > /dev/null; then
  echo "SKIP: systemd-analyze not installed (Debian package systemd; scripts/setup.sh installs it)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/local/bin/voxpipe|$build/bin/voxpipe|" "$src/deploy/systemd/voxpipe.service" > "$dir/voxpipe.service"
grep -q '^ExecStart=' "$dir/voxpipe.service"
out=$(systemd-analyze verify --man=no "$dir/voxpipe.service" 2>&1) || { echo "$out"; exit 1; }
# verify reports some problems as warnings with exit 0; any line naming the unit fails.
if grep -F "voxpipe.service" <<< "$out"; then exit 1; fi
# TimeoutStopSec must exceed the env file's drain timeout.
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$src/deploy/systemd/voxpipe.service")
drain=$(sed -n 's/^DRAIN_TIMEOUT=\([0-9]*\)s$/\1/p' "$src/deploy/systemd/voxpipe.env")
[ -n "$stop" ] && [ -n "$drain" ] && [ "$stop" -gt "$drain" ] || { echo "FAIL: TimeoutStopSec=$stop not above DRAIN_TIMEOUT=$drain"; exit 1; }
echo "systemd test: ok"
