#!/usr/bin/env bash
# Paired datapath throughput benchmark (root): is TCP throughput between two
# pod namespaces with POLICIES policies installed (rampart-last, see
# bench/datapath_bench.sh for every scenario) within 5% of the same pods with
# no policy (rampart-0) and of no ruleset at all (none)?
#
# Unpaired medians (datapath_bench.sh) cannot tell: throughput on a shared VM
# drifts by ±25% between runs of the same scenario. Here one topology stays up
# and only the ruleset is swapped (nft -f in the node namespace), either
# between short iperf3 runs (MODE=runs) or under one long connection
# (MODE=swap, below), in blocks: each block has every scenario twice in a mirrored
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
# run is printed, with the load average (and in runs mode the steal time).
# An interval is only as good as its blocks are alike: at least 6 blocks for
# a verdict; on a machine whose load jumps between blocks it stays wide.
#
#   bench/datapath_paired.sh BUILD_DIR [POLICIES=1000] [SECONDS=5] [BLOCKS=10]
#   env: SCENARIOS="rampart-0 rampart-last none" (the first is the reference)
#        AFFINITY=0,1  iperf3 -A client,server CPUs ("" = not pinned)
#        MODE=runs     runs: a new iperf3 connection per run (every scenario,
#                      none included); swap: one connection, rulesets
#                      swapped under it (see swap_run; conntrack rulesets only);
#                      conn: new connections per second (conn_probe), target 10%
#        GUARD=1       swap mode: seconds after each reload not counted
#        STREAMS=1     parallel TCP streams per run (iperf3 -P)
#        OMIT=1        seconds of each run discarded as warm-up (iperf3 -O)
#        NICE=0        nice level of both iperf3 ends and of their autogroups
#                      (sched_autogroup: nice alone only ranks a process
#                      within its session), e.g. -20 on a shared machine so
#                      other work takes less of each run
#
# Time: runs mode BLOCKS x 2 x (number of scenarios) x (SECONDS + OMIT +
# ~1.5 s), swap mode BLOCKS x 2 x (number of scenarios) x (SECONDS + GUARD +
# reload). On a quiet machine (the lead's figure, under 10 minutes in all):
#   MODE=swap SCENARIOS="rampart-0 rampart-last" NICE=-20 \
#     bench/datapath_paired.sh BUILD 1000 4 12          # ~5 min
#   NICE=-20 bench/datapath_paired.sh BUILD 1000 3 8    # ~4.5 min, none included
set -euo pipefail

BUILD=${1:?usage: datapath_paired.sh BUILD_DIR [POLICIES] [SECONDS] [BLOCKS]}
POLICIES=${2:-1000}
SECS=${3:-5}
BLOCKS=${4:-10}
read -r -a SCEN <<<"${SCENARIOS:-rampart-0 rampart-last none}"
AFFINITY=${AFFINITY-0,1}
OMIT=${OMIT:-1}
STREAMS=${STREAMS:-1}
MODE=${MODE:-runs}
GUARD=${GUARD:-1}
NICE=${NICE:-0}

# topology, cluster, rulesets, servers, load SCENARIO; cleanup on exit
source "$(dirname "$0")/datapath_setup.sh"

IPERF_PID=$(cat "$WORK/iperf.pid")
renice -n "$NICE" -p "$IPERF_PID" >/dev/null
# iperf3 -D is a session of its own: its autogroup gets the nice level too
[ -w "/proc/$IPERF_PID/autogroup" ] && echo "$NICE" >"/proc/$IPERF_PID/autogroup"
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

prio() {  # run a command in a session (autogroup) of its own at the nice level
  setsid -w sh -c '[ -w /proc/self/autogroup ] && echo "$0" >/proc/self/autogroup; exec nice -n "$0" "$@"' "$NICE" "$@"
}

RUNS="$WORK/runs.tsv"
: >"$RUNS"
probe() {  # probe BLOCK SCENARIO: one iperf3 run, one line in RUNS
  local block=$1 s=$2 aff=() c0 c1 p0 p1 out
  [ -n "$AFFINITY" ] && aff=(-A "$AFFINITY")
  out="$WORK/iperf-$block-$s-$RANDOM.json"
  c0=$(steal_ticks) p0=$(proc_ticks "$IPERF_PID") k0=$(proc_ticks "${KSOFTIRQD[@]}")
  # the client in a session (autogroup) of its own at the nice level
  ip netns exec "$A" /usr/bin/time -f '%U %S' -o "$WORK/client.time" \
    setsid sh -c '[ -w /proc/self/autogroup ] && echo "$0" >/proc/self/autogroup; exec nice -n "$0" "$@"' "$NICE" \
    iperf3 -c 10.250.2.2 -p 5201 -t "$SECS" -O "$OMIT" -P "$STREAMS" "${aff[@]}" -J >"$out"
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

# --- conn mode: new TCP connections per second instead of throughput; one
# bench/conn_rate client run (connect + RST close on one thread) per run, its
# OMIT warm-up seconds discarded. The figure is conn/s; the CPU beside it is
# per connection (client, conn_rate server and ksoftirqd): the SYN's walk
# through the node namespace's rules runs in the sender's softirq.
conn_probe() {  # conn_probe BLOCK SCENARIO: one conn_rate run, one line in RUNS
  local block=$1 s=$2 pin=() c0 c1 p0 p1 k0 k1 out blocked
  [ -n "$AFFINITY" ] && pin=(taskset -c "${AFFINITY%%,*}")
  # conn_rate exits 1 when a connect failed (counted in its output: "failed")
  if [ "$OMIT" -gt 0 ]; then ip netns exec "$A" "${pin[@]}" "$CONN" client 10.250.2.2 5301 "$OMIT" >/dev/null || true; fi
  c0=$(steal_ticks) p0=$(proc_ticks "$SERVER") k0=$(proc_ticks "${KSOFTIRQD[@]}")
  out=$(ip netns exec "$A" setsid -w sh -c '[ -w /proc/self/autogroup ] && echo "$0" >/proc/self/autogroup; exec nice -n "$0" "$@"' \
    "$NICE" "${pin[@]}" "$CONN" client 10.250.2.2 5301 "$SECS") || true
  c1=$(steal_ticks) p1=$(proc_ticks "$SERVER") k1=$(proc_ticks "${KSOFTIRQD[@]}")
  blocked=$(ip netns exec "$A" "$CONN" probe 10.250.2.2 5999)
  # conn_rate prints "<conn/s> <connections> <failures> <cpu_s>"
  read -r rate conns fails client <<<"$out"
  awk -v b="$block" -v s="$s" -v r="$rate" -v n="$conns" -v f="$fails" -v c="$client" -v hz="$(getconf CLK_TCK)" \
    -v srv=$((p1 - p0)) -v sirq=$((k1 - k0)) -v st=$((c1 - c0)) -v load="$(cut -d' ' -f1 /proc/loadavg)" -v bl="$blocked" \
    'BEGIN { cpu = c + (srv + sirq) / hz
             printf "%s\t%s\t%.0f\t%d\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%d\n", b, s, r, n, cpu, c, srv / hz, sirq / hz, st / hz, load, bl, f }' >>"$RUNS"
  awk -F'\t' 'END { printf "  block %-3s %-14s %7.0f conn/s  CPU %5.2f s (client %.2f server %.2f ksoftirqd %.2f) %.1f us/conn  failed %d  steal %.2f s  load %s  port 5999: %s\n",
    $1, $2, $3, $5, $6, $7, $8, $5 * 1e6 / $4, $12, $9, $10, $11 }' "$RUNS"
}

# --- swap mode: one long iperf3 connection; the ruleset is replaced under it
# (one nft -f transaction: flush ruleset + the scenario's table) every SECS
# seconds, in the same mirrored order. Every segment, also one that follows
# the same scenario, starts with a reload, so each carries the same
# disturbance; GUARD seconds after each reload are not counted (nft's own
# CPU, the old ruleset's release). One connection means one TCP regime
# (window, batching) for every scenario; that regime differs from connection
# to connection and is much of the spread between runs. Only rulesets that
# use conntrack can be swapped under a live connection: with no ruleset
# conntrack stops following it and its window is stale when tracking resumes
# (packets would be INVALID), so `none` needs runs mode.
swap_run() {
  local s aff=() i t0
  for s in "${SCEN[@]}"; do
    case $s in rampart-*|ct-only) ;; *) echo "swap mode: $s cannot be swapped under a live connection (use MODE=runs)"; exit 1 ;; esac
    { echo "flush ruleset"; cat "$WORK/$s.nft"; } >"$WORK/swap-$s.nft"
  done
  [ -n "$AFFINITY" ] && aff=(-A "$AFFINITY")
  prio ip netns exec "$NODE" nft -f "$WORK/swap-${ORDER[0]}.nft"
  # the shell writes its pid and execs iperf3 (setsid may fork: $! is not
  # it); it runs until interrupted after the last segment
  rm -f "$WORK/client.pid"
  ip netns exec "$A" setsid sh -c 'echo $$ >"$1"; shift; [ -w /proc/self/autogroup ] && echo "$0" >/proc/self/autogroup; exec nice -n "$0" "$@"' \
    "$NICE" "$WORK/client.pid" iperf3 -c 10.250.2.2 -p 5201 -t 86400 -i 0.25 -P "$STREAMS" "${aff[@]}" -J >"$WORK/swap.json" &
  local job=$! client
  t0=$(date +%s.%N)
  for _ in $(seq 100); do [ -s "$WORK/client.pid" ] && break; sleep 0.02; done
  client=$(cat "$WORK/client.pid")
  since() { awk -v t="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.3f", now - t }'; }
  sample() { printf '%s\t%s' "$(proc_ticks "$client" "$IPERF_PID")" "$(proc_ticks "${KSOFTIRQD[@]}")"; }
  : >"$WORK/segments.tsv"
  sleep "$OMIT"
  local begin ticks
  for ((i = 0; i < ${#ORDER[@]}; i++)); do
    prio ip netns exec "$NODE" nft -f "$WORK/swap-${ORDER[$i]}.nft"
    sleep "$GUARD"
    # the segment's window: SECS seconds from GUARD after its reload
    begin=$(since) ticks=$(sample)
    sleep "$SECS"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${ORDER_BLOCK[$i]}" "${ORDER[$i]}" "$begin" "$(since)" "$ticks" "$(sample)" \
      "$(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/segments.tsv"
  done
  kill -INT "$client"
  wait "$job" || true  # iperf3 exits 1 on the interrupt; its JSON keeps every interval
  for _ in $(seq 100); do [ -d "/proc/$client" ] || break; sleep 0.05; done
  # the ruleset was in the path: the last one loaded decides port 5999
  local blocked
  blocked="${ORDER[-1]}: $(ip netns exec "$A" "$CONN" probe 10.250.2.2 5999)"
  python3 - "$WORK/swap.json" "$WORK/segments.tsv" "$(getconf CLK_TCK)" "$blocked" >>"$RUNS" <<'PY'
import json, sys
out, segs, hz, blocked = sys.argv[1:]
hz = int(hz)
j = json.load(open(out))
ivs = [(i["sum"]["start"], i["sum"]["end"], i["sum"]["bytes"]) for i in j["intervals"]]
# A segment's throughput and bytes: the iperf3 intervals wholly inside its
# window (the iperf3 clock starts a few ms after t0, when the connection is
# up); its CPU: client, server and ksoftirqd ticks over the window, scaled
# to the span of those intervals. The reloads' nft processes are not in it.
for line in open(segs):
    block, s, a, b, p0, k0, p1, k1, load = line.rstrip("\n").split("\t")
    a, b = float(a), float(b)
    inside = [(e - st, by) for st, e, by in ivs if st >= a and e <= b]
    secs = sum(d for d, _ in inside)
    if not secs:
        continue
    got = sum(by for _, by in inside)
    cpu = (int(p1) - int(p0) + int(k1) - int(k0)) / hz * secs / (b - a)
    print(f"{block}\t{s}\t{got * 8 / secs:.0f}\t{got}\t{cpu:.3f}\t0\t0\t0\t0\t{load}\t{blocked}")
PY
  awk -F'\t' '{ printf "  block %-3s %-14s %6.2f Gbit/s  %.3f ns/byte  load %s\n", $1, $2, $3 / 1e9, $5 * 1e9 / $4, $10 }' "$RUNS"
}

# The order of the runs (or segments): blocks of the scenarios, mirrored,
# the first scenario rotating from block to block.
K=${#SCEN[@]}
ORDER=() ORDER_BLOCK=()
for ((b = 0; b < BLOCKS; b++)); do
  order=()
  for ((j = 0; j < K; j++)); do order+=("${SCEN[$(((b + j) % K))]}"); done
  for ((j = K - 1; j >= 0; j--)); do order+=("${order[$j]}"); done
  ORDER+=("${order[@]}")
  for _ in "${order[@]}"; do ORDER_BLOCK+=("$b"); done
done

echo "datapath_paired: $MODE mode, $POLICIES policies, ${SECS}s per run/segment (+${OMIT}s warm-up), $STREAMS stream(s), $BLOCKS blocks of ${SCEN[*]} mirrored, affinity '${AFFINITY}', nice $NICE"
echo "  $(nproc) cores, shared; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$MODE" = swap ]; then
  swap_run
elif [ "$MODE" = conn ]; then
  [ -n "$AFFINITY" ] && taskset -p -c "${AFFINITY##*,}" "$SERVER" >/dev/null
  renice -n "$NICE" -p "$SERVER" >/dev/null
  for ((i = 0; i < ${#ORDER[@]}; i++)); do
    load "${ORDER[$i]}"
    conn_probe "${ORDER_BLOCK[$i]}" "${ORDER[$i]}"
  done
else
  for ((i = 0; i < ${#ORDER[@]}; i++)); do
    load "${ORDER[$i]}"
    probe "${ORDER_BLOCK[$i]}" "${ORDER[$i]}"
  done
fi
ip netns exec "$NODE" nft flush ruleset
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

UNIT=()
[ "$MODE" = conn ] && UNIT=(--conn)
python3 "$(dirname "$0")/paired_stats.py" "${UNIT[@]}" "$RUNS" "${SCEN[@]}"
