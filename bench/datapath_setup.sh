# Sourced by bench/datapath_bench.sh and bench/datapath_paired.sh (not run on
# its own): the topology, the cluster, the rulesets and the servers both
# benchmarks measure. Expects BUILD, POLICIES; sets NODE, A, B (namespaces),
# WORK (scratch dir), RAMPART, CONN, and defines load SCENARIO. Creates only
# its own rpdb-<pid>-* namespaces and removes them, with the servers it
# started and WORK, on every exit path (an EXIT trap: a sourcing script that
# sets its own EXIT trap must call stop_servers and cleanup from it).
#
# Topology: pod namespace a (10.250.1.2) -- veth va | node namespace | veth vb
# -- pod namespace b (10.250.2.2), routed through the node namespace, where
# the scenario's ruleset is loaded (VCN-native layout).
RAMPART="$BUILD/cli/rampart"
CONN="$BUILD/bench/conn_rate"
command -v iperf3 >/dev/null || { echo "iperf3 is missing (scripts/install-deps.sh)"; exit 1; }
[ -x "$RAMPART" ] || { echo "no $RAMPART (build the rampart target)"; exit 1; }
[ -x "$CONN" ] || { echo "no $CONN (build the conn_rate target)"; exit 1; }

TAG=rpdb-$$
NODE=$TAG-node A=$TAG-a B=$TAG-b
WORK=$(mktemp -d)
cleanup() {
  for ns in "$A" "$B" "$NODE"; do ip netns del "$ns" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
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

# --- the cluster: the client and the server on node-1, POLICIES pods
# app=other-i on node-2; POLICIES NetworkPolicies selecting the server, policy
# i allows TCP port 10000+i from other-i, and one more allows the client on the
# benchmark ports: "client-in" sorts before "p<i>", "zz-client-in" after.
# rampart-0 compiles the pods alone (no policy selects the server, so
# everything is allowed). ----------------------------------------------------
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
EOF
  done
} >"$WORK/pods.yaml"
{
  for ((i = 0; i < POLICIES; i++)); do
    cat <<EOF
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
} >"$WORK/policies.yaml"

compile() {  # compile FILE... > nft text, the same way for both rulesets
  "$RAMPART" compile "$@" --node node-1 --mode vcn-native \
    --interface bench/client=va --interface bench/server=vb -o nft
}
sed 's/{name: client-in,/{name: zz-client-in,/' "$WORK/policies.yaml" >"$WORK/policies-last.yaml"
compile "$WORK/pods.yaml" "$WORK/policies.yaml" >"$WORK/rampart-first.nft"
compile "$WORK/pods.yaml" "$WORK/policies-last.yaml" >"$WORK/rampart-last.nft"
compile "$WORK/pods.yaml" "$WORK/policies-last.yaml" --no-allow-runs >"$WORK/rampart-unmerged.nft"
# the worst case must really be one: all POLICIES + 1 policy chains are jumped
# to from the server's chain, the client's last (no early-exiting grep -q in a
# pipe: SIGPIPE under pipefail)
JUMPS=$(grep -o 'jump pi\.[^ ]*' "$WORK/rampart-unmerged.nft")
[ "$(echo "$JUMPS" | wc -l)" -eq $((POLICIES + 1)) ] &&
  [ "$(echo "$JUMPS" | tail -1)" = "jump pi.knp.bench.zz-client-in" ] ||
  { echo "rampart-unmerged: the client's policy is not jumped to last"; exit 1; }
# and the merged rulesets jump once, into the run (grep -c exits 1 on zero)
for f in rampart-first rampart-last; do
  [ "$(grep -c 'jump pi\.' "$WORK/$f.nft" || true)" -eq 0 ] && [ "$(grep -c 'jump ar\.' "$WORK/$f.nft")" -eq 1 ] ||
    { echo "$f: the policies are not merged into one allow run"; exit 1; }
done
compile "$WORK/pods.yaml" >"$WORK/rampart-0.nft"

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
ip netns exec "$B" iperf3 -s -D -p 5201 -I "$WORK/iperf.pid" --logfile "$WORK/iperf.log"
ip netns exec "$B" "$CONN" server 10.250.2.2 5301 >"$WORK/conn-server.log" 2>&1 &
SERVER=$!
stop_servers() {
  kill "$SERVER" 2>/dev/null || true
  [ -s "$WORK/iperf.pid" ] && kill "$(cat "$WORK/iperf.pid")" 2>/dev/null || true
}
trap 'stop_servers; cleanup' EXIT
for _ in $(seq 50); do [ -s "$WORK/iperf.pid" ] && break; sleep 0.1; done
for _ in $(seq 50); do grep -q ready "$WORK/conn-server.log" && break; sleep 0.1; done

load() {  # load SCENARIO into the bench's own node namespace
  ip netns exec "$NODE" nft flush ruleset
  case $1 in
    none) ;;
    ct-only) ip netns exec "$NODE" nft -f "$WORK/ct-only.nft" ;;
    rampart-0) ip netns exec "$NODE" nft -f "$WORK/rampart-0.nft" ;;
    rampart-first) ip netns exec "$NODE" nft -f "$WORK/rampart-first.nft" ;;
    rampart-last) ip netns exec "$NODE" nft -f "$WORK/rampart-last.nft" ;;
    rampart-unmerged) ip netns exec "$NODE" nft -f "$WORK/rampart-unmerged.nft" ;;
    iptables) ip netns exec "$NODE" iptables-nft-restore <"$WORK/iptables.rules" ;;
    *) echo "unknown scenario: $1"; exit 1 ;;
  esac
}
