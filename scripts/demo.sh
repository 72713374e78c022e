#!/usr/bin/env bash
# The main job: installs what is needed (Debian 12, as root), builds, and
# runs a complete local demo with no accounts: a caller's recorded speech
# goes through what a phone line does to it and back, and the result is
# written to build/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p build/out

echo
echo "== voxpipe check pipelines/phone_audio_roundtrip.yaml"
build/bin/voxpipe check pipelines/phone_audio_roundtrip.yaml
echo
echo "== voxpipe run pipelines/phone_audio_roundtrip.yaml"
build/bin/voxpipe run pipelines/phone_audio_roundtrip.yaml
echo
echo "Listen: build/out/caller_hears_8k_mulaw.wav (what the caller hears back)"
echo "        build/out/model_input_16k.wav (what a 16 kHz model hears)"
