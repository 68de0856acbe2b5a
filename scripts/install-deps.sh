#!/usr/bin/env bash
# Installs every build, test and run-time dependency from Debian's packages.
# Idempotent and fast when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache clang-19 libclang-rt-19-dev clang-format clang-tidy
  antlr4 libantlr4-runtime-dev libyaml-cpp-dev libyaml-dev libnftnl-dev libmnl-dev libz3-dev z3
  catch2 libbenchmark-dev nlohmann-json3-dev libcli11-dev libssl-dev libcpp-httplib-dev
  nftables iptables iproute2 containernetworking-plugins etcd-server etcd-client graphviz
  iperf3  # bench/datapath_bench.sh
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
