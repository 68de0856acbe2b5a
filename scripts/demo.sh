#!/usr/bin/env bash
# The demo in one command: install dependencies, configure, build, list the
# demo cluster's connections (text on stdout) and draw them in out/demo.svg.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RAMPART_BUILD_DIR:-$root/build}
cd "$root"
scripts/install-deps.sh
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" --target rampart -j"$(nproc)"
echo "== rampart list policies/demo"
"$build/cli/rampart" list policies/demo
mkdir -p out
"$build/cli/rampart" list policies/demo -o svg > out/demo.svg
echo "== wrote out/demo.svg"
