#!/bin/sh
# The demo cluster of policies/demo on this machine, from one command:
#
#   deploy/demo-cluster.sh up [--mode vcn-native|overlay]   # two nodes in network namespaces
#   deploy/demo-cluster.sh probe shop/frontend shop/cart 8080 [tcp|udp]
#   deploy/demo-cluster.sh status
#   deploy/demo-cluster.sh down                             # removes everything it made
#
# Needs root (network namespaces, nftables) and Debian's containernetworking-plugins
# in /usr/lib/cni. Nothing is changed in the root network namespace. Builds
# rampart-agent, rampart-cni, rampart and rampart-demo-cluster in $RAMPART_BUILD_DIR
# (default: build/ beside this repository's sources) when they are missing.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${RAMPART_BUILD_DIR:-$here/build}
bin=$build/tests/e2e/rampart-demo-cluster
if [ ! -x "$bin" ] || [ ! -x "$build/enforcer/rampart-agent" ] || [ ! -x "$build/cni/rampart-cni" ]; then
  if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
    cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" --target rampart-demo-cluster rampart-agent rampart-cni rampart -j2
fi
exec "$bin" "$@"
