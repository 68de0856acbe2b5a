#!/usr/bin/env bash
# Datapath benchmark (root): TCP throughput (iperf3) and new-connection rate
# (bench/conn_rate, a compiled connect/close loop) between two pod namespaces
# routed through a node namespace, with
#   none       no ruleset in the node namespace,
#   ct-only    one nft rule `ct state established,related accept`: the cost of
#              conntrack itself, which any stateful ruleset pays per connection,
#   rampart-0  Rampart's ruleset for the same pods with no policy at all (the
#              same table, base chains, dispatch maps and conntrack fast path:
#              what a node runs before anyone writes a policy) -- the baseline
#              the issue's "1,000 policies vs. none" is measured against,
#   rampart-first / rampart-last
#              Rampart's ruleset for the same pods and POLICIES + 1 policies
#              selecting the server (rampart compile | nft -f; the netlink path
#              leaves the same bytecode, tests/compiler kernel_test). In -first
#              the policy that allows the client sorts first (Calico order,
#              then name), in -last after all POLICIES others. All of them
#              only allow, so they form one allow run: the server's ingress
#              chain makes one jump into a `tcp dport vmap` whose segment for
#              the client's port holds only the client's rule,
#   rampart-unmerged
#              rampart-last compiled with --no-allow-runs: the layout before
#              allow runs, where the server's chain jumps to every policy
#              chain in turn until one allows (the worst case: every new
#              connection walks all POLICIES + 1 chains), and
#   iptables   the same policy as a linear iptables-nft FORWARD chain (baseline,
#              expected to degrade: every new connection walks every rule).
# Only namespaces this script creates are touched; they are removed on every
# exit path (trap), with the servers it started.
#
#   bench/datapath_bench.sh BUILD_DIR [POLICIES=1000] [SECONDS=4] [ROUNDS=5] [CONN_THREADS=1]
#
# Each round runs every scenario once, starting at a different scenario each
# round (load on a shared machine drifts). Prints every probe, then per
# scenario the median with min..max, its ratio to rampart-0 (the headline) and
# to none (context).
set -euo pipefail

BUILD=${1:?usage: datapath_bench.sh BUILD_DIR [POLICIES] [SECONDS] [ROUNDS] [CONN_THREADS]}
POLICIES=${2:-1000}
SECS=${3:-4}
ROUNDS=${4:-5}
CONN_THREADS=${5:-1}

# topology, cluster, rulesets, servers, load SCENARIO; cleanup on exit
source "$(dirname "$0")/datapath_setup.sh"

measure() {  # prints "bit/s conn/s connections failures client_cpu_s"
  local bps
  bps=$(ip netns exec "$A" iperf3 -c 10.250.2.2 -p 5201 -t "$SECS" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
  echo "$bps $(ip netns exec "$A" "$CONN" client 10.250.2.2 5301 "$SECS" "$CONN_THREADS" || true)"
}

declare -A BPS CPS UPC
run() {
  local name=$1 r bps cps n failed cpu blocked tw
  read -r bps cps n failed cpu <<<"$(measure)"
  BPS[$name]+="$bps "
  CPS[$name]+="$cps "
  # the client's CPU per connection: the SYN's forward path (veth xmit, node
  # namespace, rules) mostly runs in the sending process's softirq, so this
  # counts the per-connection rule walk and is less sensitive to load
  UPC[$name]+="$(awk -v u="$cpu" -v k="$n" 'BEGIN { print k ? u * 1e6 / k : 0 }') "
  # the ruleset must be in the path: a port no policy allows is dropped
  # (rampart-0, none and ct-only allow it: "reachable")
  blocked=$(ip netns exec "$A" "$CONN" probe 10.250.2.2 5999)
  # RST close on both ends: no conn_rate socket should be left in TIME_WAIT
  # (iperf3's own connections close with FIN and are not counted)
  tw=$(( $(ip netns exec "$A" ss -Htan state time-wait '( dport = :5301 )' | wc -l) + $(ip netns exec "$B" ss -Htan state time-wait '( sport = :5301 )' | wc -l) ))
  awk -v n="$name" -v b="$bps" -v c="$cps" -v k="$n" -v f="$failed" -v u="$cpu" -v x="$blocked" -v tw="$tw" \
    'BEGIN { printf "%-16s %7.2f Gbit/s %8.0f conn/s (%d conns, %d failed, client %.1f us CPU/conn, %d in TIME_WAIT)  port 5999: %s\n", n, b / 1e9, c, k, f, k ? u * 1e6 / k : 0, tw, x }'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo, hi }'; }

SCENARIOS=(none ct-only rampart-0 rampart-first rampart-last rampart-unmerged iptables)
K=${#SCENARIOS[@]}
echo "datapath_bench: $POLICIES policies, ${SECS}s per probe, $ROUNDS rounds, $CONN_THREADS conn_rate thread(s)"
echo "  $(nproc) cores, shared; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 0; round < ROUNDS; round++)); do
  for ((j = 0; j < K; j++)); do
    s=${SCENARIOS[$(((round + j) % K))]}
    load "$s"
    run "$s"
  done
done
ip netns exec "$NODE" nft flush ruleset
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A MB MC
for s in "${SCENARIOS[@]}"; do
  MB[$s]=$(echo "${BPS[$s]}" | median)
  MC[$s]=$(echo "${CPS[$s]}" | median)
done
echo "median (min..max) over $ROUNDS rounds; ratios of medians to rampart-0 (headline) and to none;"
echo "client CPU per connection (us), median (min..max) and ratio to rampart-0 (lower is better)"
printf '%-23s %-21s %-11s %-8s %-23s %-11s %-8s %-19s %s\n' "" Gbit/s x_rampart-0 x_none conn/s x_rampart-0 x_none cpu_us/conn x_rampart-0
for s in "${SCENARIOS[@]}"; do
  read -r blo bhi <<<"$(echo "${BPS[$s]}" | minmax)"
  read -r clo chi <<<"$(echo "${CPS[$s]}" | minmax)"
  read -r ulo uhi <<<"$(echo "${UPC[$s]}" | minmax)"
  awk -v n="$s" -v b="${MB[$s]}" -v b0="${MB[rampart-0]}" -v bn="${MB[none]}" -v blo="$blo" -v bhi="$bhi" \
    -v c="${MC[$s]}" -v c0="${MC[rampart-0]}" -v cn="${MC[none]}" -v clo="$clo" -v chi="$chi" \
    -v u="$(echo "${UPC[$s]}" | median)" -v u0="$(echo "${UPC[rampart-0]}" | median)" -v ulo="$ulo" -v uhi="$uhi" \
    'BEGIN { printf "median %-16s %6.2f (%5.2f..%5.2f)  %-11.3f %-8.3f %7.0f (%6.0f..%6.0f)  %-11.3f %-8.3f %5.0f (%4.0f..%4.0f)   %.2f\n",
             n, b / 1e9, blo / 1e9, bhi / 1e9, b / b0, b / bn, c, clo, chi, c / c0, c / cn, u, ulo, uhi, u / u0 }'
done
