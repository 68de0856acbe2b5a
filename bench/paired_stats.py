#!/usr/bin/env python3
"""Statistics for bench/datapath_paired.sh: per-block ratios and bootstrap intervals.

    paired_stats.py [--conn] RUNS.tsv REFERENCE SCENARIO...

RUNS.tsv has one line per run: block, scenario, bit/s, bytes, CPU s, client s,
server s, softirq s, steal s, load, probe. With --conn (datapath_paired.sh
MODE=conn) the rate is connections per second and the amount connections, so
the CPU is per connection, and the target is 10% (the issue's for new
connections) instead of 5%. Within a block every scenario ran
twice, mirrored; its value there is the mean of the two throughputs and the
sum of CPU over the sum of bytes. Each ratio is taken within a block, so load
that drifts between blocks cancels; the figure is the geometric mean over
blocks with a 95% bootstrap percentile interval (blocks resampled, seeded).
"""
import math
import random
import statistics
import sys
from collections import defaultdict

TARGET = 0.05  # throughput; --conn: 0.10
RESAMPLES = 10000
MIN_BLOCKS = 6  # below this a bootstrap interval means little: no verdict


def geomean(xs):
    return math.exp(statistics.fmean(math.log(x) for x in xs))


def interval(xs):
    rng = random.Random(1)  # deterministic: the same runs give the same interval
    stats = sorted(geomean(rng.choices(xs, k=len(xs))) for _ in range(RESAMPLES))
    return stats[int(0.025 * RESAMPLES)], stats[int(0.975 * RESAMPLES) - 1]


def verdict(lo, hi, n, target):
    pct = f"{target:.0%}"
    if n < MIN_BLOCKS:
        return f"no verdict (fewer than {MIN_BLOCKS} blocks)"
    if lo >= 1 - target and hi <= 1 + target:
        return f"within {pct}"
    if hi < 1 - target or lo > 1 + target:
        return f"outside {pct}"
    return "not resolved (interval wider than the target allows)"


def main():
    args = sys.argv[1:]
    conn = bool(args) and args[0] == "--conn"
    if conn:
        args = args[1:]
    path, scenarios = args[0], args[1:]
    target = 0.10 if conn else TARGET
    # (rate name, its unit and scale, CPU name, its unit and scale)
    rate, rate_unit, rate_scale, per, per_unit, per_scale = (
        ("conn/s", "conn/s", 1, "CPU per conn", "us/conn", 1e6) if conn else
        ("throughput", "Gbit/s", 1e-9, "CPU per byte", "ns/byte", 1e9))
    runs = defaultdict(list)  # (block, scenario) -> [(bps, bytes, cpu)]
    probes = defaultdict(set)
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        runs[(int(f[0]), f[1])].append((float(f[2]), int(f[3]), float(f[4])))
        probes[f[1]].add(f[10])
    blocks = sorted({b for b, _ in runs})
    tput = {k: statistics.fmean(r[0] for r in v) for k, v in runs.items()}
    cpb = {k: sum(r[2] for r in v) / sum(r[1] for r in v) for k, v in runs.items()}

    print(f"\n{len(blocks)} blocks; unpaired spread of each scenario (every run):")
    for s in scenarios:
        xs = [r[0] * rate_scale for (b, t), v in runs.items() if t == s for r in v]
        cs = [cpb[(b, s)] * per_scale for b in blocks if (b, s) in cpb]
        if xs:
            print(f"  {s:<16} {statistics.median(xs):6.2f} {rate_unit} ({min(xs):.2f}..{max(xs):.2f}, "
                  f"±{50 * (max(xs) - min(xs)) / statistics.median(xs):.0f}%)  "
                  f"CPU {statistics.median(cs):.3f} {per_unit} ({min(cs):.3f}..{max(cs):.3f})  "
                  f"port 5999: {','.join(sorted(probes[s]))}")

    refs = [scenarios[0]] + (["none"] if "none" in scenarios and scenarios[0] != "none" else [])
    print("\nratios within a block: geometric mean [95% bootstrap interval] (median; min..max)")
    for ref in refs:
        for s in scenarios:
            if s == ref:
                continue
            both = [b for b in blocks if (b, s) in runs and (b, ref) in runs]
            if len(both) < 2:
                print(f"  {s} / {ref}: fewer than two blocks")
                continue
            for name, table in ((rate, tput), (per, cpb)):
                rs = [table[(b, s)] / table[(b, ref)] for b in both]
                lo, hi = interval(rs)
                print(f"  {s + ' / ' + ref:<28} {name:<13} {geomean(rs):.3f} [{lo:.3f}, {hi:.3f}]  "
                      f"({statistics.median(rs):.3f}; {min(rs):.3f}..{max(rs):.3f})  {verdict(lo, hi, len(rs), target)}")


if __name__ == "__main__":
    main()
