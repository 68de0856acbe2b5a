#!/usr/bin/env bash
# Datapath benchmark (root): TCP throughput (iperf3) and new-connection rate
# between two pod namespaces routed through a node namespace, with
#   none     no ruleset in the node namespace,
#   ct-only  one nft rule `ct state established,related accept`: the cost of
#            conntrack itself, which any stateful ruleset pays per connection,
#   rampart  Rampart's ruleset for 1,000 policies (rampart compile | nft -f;
#            the netlink path leaves the same bytecode, tests/compiler
#            kernel_test), and
#   iptables the same policy as a linear iptables-nft FORWARD chain (baseline,
#            expected to degrade: every new connection walks every rule).
# Only namespaces this script creates are touched; they are removed on exit.
#
#   bench/datapath_bench.sh BUILD_DIR [POLICIES=1000] [SECONDS=4] [ROUNDS=3]
#
# The scenarios alternate for ROUNDS rounds (load on a shared machine drifts);
# prints every probe, the median per scenario and its ratio to `none`.
set -euo pipefail

BUILD=${1:?usage: datapath_bench.sh BUILD_DIR [POLICIES] [SECONDS]}
POLICIES=${2:-1000}
SECS=${3:-4}
ROUNDS=${4:-3}
RAMPART="$BUILD/cli/rampart"
command -v iperf3 >/dev/null || { echo "iperf3 is missing (scripts/install-deps.sh)"; exit 1; }
[ -x "$RAMPART" ] || { echo "no $RAMPART (build the rampart target)"; exit 1; }

TAG=rpdb-$$
NODE=$TAG-node A=$TAG-a B=$TAG-b
WORK=$(mktemp -d)
cleanup() {
  for ns in "$A" "$B" "$NODE"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- topology: a (10.250.1.2) — va|node|vb — b (10.250.2.2), routed ---------
for ns in "$NODE" "$A" "$B"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$NODE" link add va type veth peer name eth0 netns "$A"
ip -n "$NODE" link add vb type veth peer name eth0 netns "$B"
ip -n "$NODE" addr add 10.250.1.1/30 dev va
ip -n "$NODE" addr add 10.250.2.1/30 dev vb
ip -n "$NODE" link set va up
ip -n "$NODE" link set vb up
ip netns exec "$NODE" sysctl -qw net.ipv4.ip_forward=1
ip -n "$A" addr add 10.250.1.2/30 dev eth0
ip -n "$B" addr add 10.250.2.2/30 dev eth0
ip -n "$A" link set eth0 up
ip -n "$B" link set eth0 up
ip -n "$A" route add default via 10.250.1.1
ip -n "$B" route add default via 10.250.2.1

# --- the policy: POLICIES NetworkPolicies selecting the server; policy i
# allows TCP port 10000+i from pods app=other-i (one pod each, on another
# node); the last one also allows the client on the benchmark ports. --------
{
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: bench, labels: {app: client}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.250.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: bench, labels: {app: server}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.250.2.2}
EOF
  for ((i = 0; i < POLICIES; i++)); do
    cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: other-$i, namespace: bench, labels: {app: other-$i}}
spec: {nodeName: node-2, containers: [{name: c, image: x}]}
status: {podIP: 10.251.$((i / 250)).$((i % 250 + 1))}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p$i, namespace: bench}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: other-$i}}}]
    ports: [{protocol: TCP, port: $((10000 + i))}]
EOF
  done
  cat <<EOF
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-in, namespace: bench}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{protocol: TCP, port: 5201}, {protocol: TCP, port: 5301}]
EOF
} >"$WORK/cluster.yaml"

"$RAMPART" compile "$WORK/cluster.yaml" --node node-1 --mode vcn-native \
  --interface bench/client=va --interface bench/server=vb -o nft >"$WORK/rampart.nft"

{
  echo "*filter"
  echo ":FORWARD DROP [0:0]"
  echo "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
  echo "-A FORWARD -m conntrack --ctstate INVALID -j DROP"
  for ((i = 0; i < POLICIES; i++)); do
    echo "-A FORWARD -s 10.251.$((i / 250)).$((i % 250 + 1))/32 -d 10.250.2.2/32 -p tcp --dport $((10000 + i)) -j ACCEPT"
  done
  echo "-A FORWARD -s 10.250.1.2/32 -d 10.250.2.2/32 -p tcp -m multiport --dports 5201,5301 -j ACCEPT"
  echo "COMMIT"
} >"$WORK/iptables.rules"

cat >"$WORK/ct-only.nft" <<'EOF'
table inet ct-only {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
	}
}
EOF

# --- probes ---------------------------------------------------------------
cat >"$WORK/conn.py" <<'EOF'
# New TCP connections per second: connect, then close with RST (no TIME_WAIT).
import socket, struct, sys, time
mode, host, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
if mode == "server":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(4096)
    print("ready", flush=True)
    while True:
        c, _ = s.accept(); c.close()
linger = struct.pack("ii", 1, 0)
n, end = 0, time.monotonic() + secs
while time.monotonic() < end:
    c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger); c.settimeout(2)
    c.connect((host, port)); c.close(); n += 1
print(n / secs)
EOF
cat >"$WORK/blocked.py" <<'EOF'
# Nothing listens there: a reset means the path is open, a timeout dropped.
import socket, sys
c = socket.socket(); c.settimeout(1)
try:
    c.connect((sys.argv[1], int(sys.argv[2]))); print("open")
except ConnectionRefusedError:
    print("reachable")
except OSError:
    print("dropped")
EOF

ip netns exec "$B" iperf3 -s -D -p 5201 -I "$WORK/iperf.pid" --logfile "$WORK/iperf.log"
ip netns exec "$B" python3 "$WORK/conn.py" server 10.250.2.2 5301 0 >"$WORK/conn-server.log" 2>&1 &
SERVER=$!
stop_servers() {
  kill "$SERVER" 2>/dev/null || true
  [ -s "$WORK/iperf.pid" ] && kill "$(cat "$WORK/iperf.pid")" 2>/dev/null || true
}
trap 'stop_servers; cleanup' EXIT
for _ in $(seq 50); do [ -s "$WORK/iperf.pid" ] && break; sleep 0.1; done
for _ in $(seq 50); do grep -q ready "$WORK/conn-server.log" && break; sleep 0.1; done

measure() {  # prints "gbit/s conn/s"
  local bps cps
  bps=$(ip netns exec "$A" iperf3 -c 10.250.2.2 -p 5201 -t "$SECS" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
  cps=$(ip netns exec "$A" python3 "$WORK/conn.py" client 10.250.2.2 5301 "$SECS")
  echo "$bps $cps"
}

declare -A BPS CPS
run() {
  local name=$1 r blocked
  r=$(measure)
  BPS[$name]+="${r% *} "
  CPS[$name]+="${r#* } "
  # the ruleset must be in the path: a port no policy allows is dropped
  blocked=$(ip netns exec "$A" python3 "$WORK/blocked.py" 10.250.2.2 5999)
  awk -v n="$name" -v b="${r% *}" -v c="${r#* }" -v x="$blocked" \
    'BEGIN { printf "%-9s %8.2f Gbit/s %10.0f conn/s   port 5999: %s\n", n, b / 1e9, c, x }'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "datapath_bench: $POLICIES policies, ${SECS}s per probe, $ROUNDS rounds ($(nproc) cores, shared)"
for ((round = 0; round < ROUNDS; round++)); do
  ip netns exec "$NODE" nft flush ruleset  # the bench's own node namespace
  run none
  ip netns exec "$NODE" nft -f "$WORK/ct-only.nft"
  run ct-only
  ip netns exec "$NODE" nft flush ruleset
  ip netns exec "$NODE" nft -f "$WORK/rampart.nft"
  run rampart
  ip netns exec "$NODE" nft flush ruleset
  ip netns exec "$NODE" iptables-nft-restore <"$WORK/iptables.rules"
  run iptables
done
declare -A MB MC
for s in none ct-only rampart iptables; do
  MB[$s]=$(echo "${BPS[$s]}" | median)
  MC[$s]=$(echo "${CPS[$s]}" | median)
done
for s in none ct-only rampart iptables; do
  awk -v n="$s" -v b="${MB[$s]}" -v b0="${MB[none]}" -v c="${MC[$s]}" -v c0="${MC[none]}" \
    'BEGIN { printf "median %-9s %6.2f Gbit/s (%.3f x none) %8.0f conn/s (%.3f x none)\n", n, b / 1e9, b / b0, c, c / c0 }'
done
