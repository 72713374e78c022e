#!/usr/bin/env bash
# Installs the Debian 12 packages voxpipe builds, tests and demos with.
# Run as root (or with sudo) on a fresh machine; a no-op when all are present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libssl-dev ca-certificates
  libsoxr-dev libsndfile1-dev libyaml-cpp-dev nlohmann-json3-dev libsimdjson-dev
  libspdlog-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  sox espeak-ng
  haproxy  # tests/deploy/balancer_test.sh runs the real balancer (deploy/haproxy/haproxy.cfg)
  nginx    # tests/deploy/nginx_test.sh runs deploy/nginx/voxpipe.conf
  # The fuzz targets (tests/fuzz, scripts/fuzz.sh): libFuzzer ships with
  # Clang only; libclang-rt-14-dev holds its runtime and the sanitizers'.
  clang libclang-rt-14-dev
  chromium  # tests/browser: the voice chat page in headless Chromium
)
# tests/browser drives Chromium from Node (puppeteer-core from npm). A Node
# that is already installed (e.g. NodeSource's, which carries its own npm and
# conflicts with Debian's npm package) is used as it is.
command -v npm > /dev/null || packages+=(nodejs npm)
# systemd-analyze (Debian package systemd) verifies deploy/systemd/voxpipe.service.
command -v systemd-analyze > /dev/null || packages+=(systemd)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
