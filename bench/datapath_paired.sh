#!/usr/bin/env bash
# Paired datapath throughput benchmark (root): is TCP throughput between two
# pod namespaces with POLICIES policies installed (rampart-last, see
# bench/datapath_bench.sh for every scenario) within 5% of the same pods with
# no policy (rampart-0) and of no ruleset at all (none)?
#
# Unpaired medians (datapath_bench.sh) cannot tell: throughput on a shared VM
# drifts by ±25% between runs of the same scenario. Here one topology stays up
# and only the ruleset is swapped (nft -f in the node namespace) between short
# iperf3 runs, in blocks: each block runs every scenario twice in a mirrored
# order (X Y Z Z Y X, the first scenario rotating from block to block), so a
# load drift that is linear over a block cancels out of each scenario's mean
# within it. Per block and scenario: the throughput ratio to the reference
# (rampart-0, and none), and the CPU per byte ratio. The figure is the
# geometric mean of the per-block ratios with a 95% bootstrap percentile
# interval over blocks (seeded: the same samples give the same interval).
#
# CPU per byte = CPU time of the iperf3 client, the iperf3 server and the
# ksoftirqd threads of the CPUs they run on, over the bytes sent. This kernel
# accounts by tick without IRQ_TIME_ACCOUNTING: the veth path's softirq work
# (forwarding through the node namespace and its rules included) is charged
# to the task it interrupts -- mostly the two iperf3 processes -- or to
# ksoftirqd when deferred. On a CPU-bound veth path the throughput cap is the
# inverse of it, and the ruleset's per-packet work shows up in it directly.
#
# A verdict per ratio: "within 5%" when the whole interval is inside
# [0.95, 1.05], "outside 5%" when it is wholly outside, else "not resolved"
# (the interval is wider than the target allows on this machine now). Every
# run is printed, with the load average and the steal time of the run.
#
#   bench/datapath_paired.sh BUILD_DIR [POLICIES=1000] [SECONDS=5] [BLOCKS=10]
#   env: SCENARIOS="rampart-0 rampart-last none" (the first is the reference)
#        AFFINITY=0,1  iperf3 -A client,server CPUs ("" = not pinned)
#        OMIT=1        seconds of each run discarded as warm-up (iperf3 -O)
#        NICE=0        nice level of both iperf3 ends (e.g. -10 on a shared
#                      machine: other work then takes less of the run)
#
# Time: BLOCKS x 2 x (number of scenarios) x (SECONDS + OMIT + ~1.5 s); the
# defaults take about 7.5 minutes.
set -euo pipefail

BUILD=${1:?usage: datapath_paired.sh BUILD_DIR [POLICIES] [SECONDS] [BLOCKS]}
POLICIES=${2:-1000}
SECS=${3:-5}
BLOCKS=${4:-10}
read -r -a SCEN <<<"${SCENARIOS:-rampart-0 rampart-last none}"
AFFINITY=${AFFINITY-0,1}
OMIT=${OMIT:-1}
NICE=${NICE:-0}

# topology, cluster, rulesets, servers, load SCENARIO; cleanup on exit
source "$(dirname "$0")/datapath_setup.sh"

IPERF_PID=$(cat "$WORK/iperf.pid")
renice -n "$NICE" -p "$IPERF_PID" >/dev/null
cpus=($(seq 0 $(($(nproc) - 1))))
[ -n "$AFFINITY" ] && IFS=, read -r -a cpus <<<"$AFFINITY"
KSOFTIRQD=()
for c in $(printf '%s\n' "${cpus[@]}" | sort -u); do KSOFTIRQD+=("$(pgrep -x "ksoftirqd/$c")"); done

steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }
proc_ticks() {  # utime + stime of the given pids, summed
  local p t=0
  for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo "$t"
}

RUNS="$WORK/runs.tsv"
: >"$RUNS"
probe() {  # probe BLOCK SCENARIO: one iperf3 run, one line in RUNS
  local block=$1 s=$2 aff=() c0 c1 p0 p1 out
  [ -n "$AFFINITY" ] && aff=(-A "$AFFINITY")
  out="$WORK/iperf-$block-$s-$RANDOM.json"
  c0=$(steal_ticks) p0=$(proc_ticks "$IPERF_PID") k0=$(proc_ticks "${KSOFTIRQD[@]}")
  ip netns exec "$A" nice -n "$NICE" /usr/bin/time -f '%U %S' -o "$WORK/client.time" \
    iperf3 -c 10.250.2.2 -p 5201 -t "$SECS" -O "$OMIT" "${aff[@]}" -J >"$out"
  c1=$(steal_ticks) p1=$(proc_ticks "$IPERF_PID") k1=$(proc_ticks "${KSOFTIRQD[@]}")
  # the ruleset must be in the path: a port no policy allows is dropped by
  # the rampart-last ruleset (and reachable without one)
  local blocked
  blocked=$(ip netns exec "$A" "$CONN" probe 10.250.2.2 5999)
  python3 - "$out" "$block" "$s" "$c0" "$c1" "$p0" "$p1" "$k0" "$k1" "$(cat "$WORK/client.time")" "$blocked" \
    "$(getconf CLK_TCK)" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RUNS" <<'EOF'
import json, sys
out, block, s, c0, c1, p0, p1, k0, k1, ct, blocked, hz, load = sys.argv[1:]
j = json.load(open(out))
# every interval, the omitted warm-up included: the CPU is counted over the
# whole run, so the bytes must be too; the throughput excludes the warm-up
sent = sum(i["sum"]["bytes"] for i in j["intervals"])
bps = j["end"]["sum_received"]["bits_per_second"]
hz = int(hz)
client = sum(map(float, ct.split()))
server = (int(p1) - int(p0)) / hz
softirq = (int(k1) - int(k0)) / hz  # ksoftirqd: deferred softirq work
steal = (int(c1) - int(c0)) / hz
cpu = client + server + softirq
print(f"{block}\t{s}\t{bps:.0f}\t{sent}\t{cpu:.3f}\t{client:.2f}\t{server:.2f}\t{softirq:.2f}\t{steal:.2f}\t{load}\t{blocked}")
EOF
  awk -F'\t' 'END { printf "  block %-3s %-14s %6.2f Gbit/s  CPU %5.2f s (client %.2f server %.2f ksoftirqd %.2f) %.3f ns/byte  steal %.2f s  load %s  port 5999: %s\n",
    $1, $2, $3 / 1e9, $5, $6, $7, $8, $5 * 1e9 / $4, $9, $10, $11 }' "$RUNS"
}

K=${#SCEN[@]}
echo "datapath_paired: $POLICIES policies, ${SECS}s per run (+${OMIT}s warm-up), $BLOCKS blocks of ${SCEN[*]} mirrored, affinity '${AFFINITY}', nice $NICE"
echo "  $(nproc) cores, shared; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((b = 0; b < BLOCKS; b++)); do
  order=()
  for ((j = 0; j < K; j++)); do order+=("${SCEN[$(((b + j) % K))]}"); done
  for ((j = K - 1; j >= 0; j--)); do order+=("${order[$j]}"); done
  for s in "${order[@]}"; do
    load "$s"
    probe "$b" "$s"
  done
done
ip netns exec "$NODE" nft flush ruleset
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$(dirname "$0")/paired_stats.py" "$RUNS" "${SCEN[@]}"
