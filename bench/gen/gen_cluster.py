#!/usr/bin/env python3
"""Writes a synthetic, seeded cluster as YAML: namespaces, pods and policies
(Kubernetes NetworkPolicy, Calico NetworkPolicy / GlobalNetworkPolicy, tiers,
network sets). The same arguments always give byte-identical files.

  bench/gen/gen_cluster.py --pods 10000 --policies 2000 --namespaces 50 --seed 1 --out /tmp/cluster

See bench/README.md for every option.
"""
import argparse
import os
import random

APPS = ["web", "api", "db", "cache", "queue", "auth", "search", "billing", "report", "batch",
        "gateway", "metrics", "logs", "cart", "checkout", "catalog", "mail", "admin", "cron", "etl"]
TIERS = ["frontend", "backend", "data", "ops"]
ENVS = ["prod", "staging", "dev"]
TEAMS = ["alpha", "beta", "gamma", "delta", "omega"]
PORTS = [("http", 80), ("https", 443), ("grpc", 9090), ("metrics", 9100), ("db", 5432), ("redis", 6379)]


def q(s):
    return '"%s"' % s


def namespaces(rng, n):
    out = []
    for i in range(n):
        name = "ns-%03d" % i
        out.append((name, {"team": rng.choice(TEAMS), "env": rng.choice(ENVS)}))
    return out


def pod_doc(rng, i, nss):
    ns = nss[i % len(nss)][0]
    app = rng.choice(APPS)
    labels = {"app": app, "tier": rng.choice(TIERS), "version": "v%d" % rng.randint(1, 3)}
    if rng.random() < 0.3:
        labels["team"] = rng.choice(TEAMS)
    ports = rng.sample(PORTS, rng.randint(1, 3))
    ip = "10.%d.%d.%d" % (i // 65536 % 256, i // 256 % 256, i % 256)
    lines = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: %s-%05d" % (app, i), "  namespace: %s" % ns,
             "  labels:"]
    lines += ["    %s: %s" % (k, q(v)) for k, v in sorted(labels.items())]
    lines += ["spec:", "  serviceAccountName: %s" % app, "  nodeName: node-%02d" % (i % 16), "  containers:",
              "  - name: main", "    image: example/%s:1" % app, "    ports:"]
    lines += ["    - {name: %s, containerPort: %d, protocol: TCP}" % p for p in ports]
    lines += ["status:", "  podIP: %s" % ip, "  podIPs:", "  - ip: %s" % ip]
    return "\n".join(lines) + "\n"


def k8s_policy(rng, i, nss):
    ns = rng.choice(nss)[0]
    app = rng.choice(APPS)
    lines = ["apiVersion: networking.k8s.io/v1", "kind: NetworkPolicy", "metadata:", "  name: knp-%05d" % i,
             "  namespace: %s" % ns, "spec:", "  podSelector:", "    matchLabels: {app: %s}" % app]
    types = ["Ingress"] + (["Egress"] if rng.random() < 0.4 else [])
    lines.append("  policyTypes: [%s]" % ", ".join(types))
    lines.append("  ingress:")
    for _ in range(rng.randint(1, 3)):
        lines.append("  - from:")
        r = rng.random()
        if r < 0.4:
            lines.append("    - podSelector: {matchLabels: {app: %s}}" % rng.choice(APPS))
        elif r < 0.7:
            lines.append("    - namespaceSelector: {matchLabels: {team: %s}}" % rng.choice(TEAMS))
            lines.append("      podSelector:")
            lines.append("        matchExpressions:")
            lines.append("        - {key: tier, operator: In, values: [%s, %s]}" % tuple(rng.sample(TIERS, 2)))
        else:
            a = rng.randint(1, 200)
            lines.append("    - ipBlock: {cidr: 172.%d.0.0/16, except: [172.%d.%d.0/24]}" % (a, a, rng.randint(0, 255)))
        lines.append("    ports:")
        name, port = rng.choice(PORTS)
        lines.append("    - {protocol: TCP, port: %d}" % port if rng.random() < 0.7 else "    - {port: %s}" % name)
        if rng.random() < 0.2:
            lo = rng.randint(1000, 30000)
            lines.append("    - {protocol: UDP, port: %d, endPort: %d}" % (lo, lo + rng.randint(0, 100)))
    if "Egress" in types:
        lines.append("  egress:")
        lines.append("  - to:")
        lines.append("    - namespaceSelector: {}")
        lines.append("      podSelector: {matchLabels: {k8s-app: kube-dns}}")
        lines.append("    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]")
    return "\n".join(lines) + "\n"


def calico_rule(rng, lines, global_policy):
    action = rng.choice(["Allow", "Allow", "Allow", "Deny", "Pass", "Log"])
    lines.append("  - action: %s" % action)
    if rng.random() < 0.8:
        lines.append("    protocol: %s" % rng.choice(["TCP", "TCP", "UDP", "SCTP"]))
        lines.append("    destination:")
        lines.append("      ports: [%d, \"%d:%d\"]" % (rng.choice(PORTS)[1], 8000, 8000 + rng.randint(0, 99)))
    lines.append("    source:")
    r = rng.random()
    if r < 0.5:
        lines.append("      selector: app == %s && tier != %s" % (q(rng.choice(APPS)), q(rng.choice(TIERS))))
        if global_policy or rng.random() < 0.3:
            lines.append("      namespaceSelector: team in {%s, %s}" % (q(rng.choice(TEAMS)), q(rng.choice(TEAMS))))
    elif r < 0.8:
        lines.append("      nets: [192.168.%d.0/24]" % rng.randint(0, 255))
    else:
        lines.append("      selector: role == \"partner\"")


def calico_policy(rng, i, nss, tiers):
    global_policy = rng.random() < 0.25
    tier = rng.choice(tiers)
    name = ("%s.cnp-%05d" % (tier, i)) if tier != "default" else "cnp-%05d" % i
    lines = ["apiVersion: projectcalico.org/v3",
             "kind: %s" % ("GlobalNetworkPolicy" if global_policy else "NetworkPolicy"), "metadata:",
             "  name: %s" % name]
    if not global_policy:
        lines.append("  namespace: %s" % rng.choice(nss)[0])
    lines += ["spec:", "  tier: %s" % tier, "  order: %d" % rng.randint(1, 2000),
              "  selector: app == %s" % q(rng.choice(APPS))]
    if global_policy:
        lines.append("  namespaceSelector: env == %s" % q(rng.choice(ENVS)))
    lines.append("  types: [Ingress, Egress]")
    lines.append("  ingress:")
    for _ in range(rng.randint(1, 4)):
        calico_rule(rng, lines, global_policy)
    lines.append("  egress:")
    lines.append("  - action: Allow")
    return "\n".join(lines) + "\n"


def write_chunks(out_dir, prefix, docs, per_file):
    for start in range(0, len(docs), per_file):
        path = os.path.join(out_dir, "%s-%03d.yaml" % (prefix, start // per_file))
        with open(path, "w") as f:
            f.write("---\n".join(docs[start:start + per_file]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=10000, help="number of Pod objects (default 10000)")
    ap.add_argument("--policies", type=int, default=2000, help="number of policies, all kinds (default 2000)")
    ap.add_argument("--namespaces", type=int, default=50, help="number of namespaces (default 50)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--out", required=True, help="output directory (created; existing files are overwritten)")
    ap.add_argument("--k8s-fraction", type=float, default=0.6,
                    help="share of policies that are Kubernetes NetworkPolicies; the rest are Calico (default 0.6)")
    ap.add_argument("--per-file", type=int, default=500, help="documents per YAML file (default 500)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    nss = namespaces(rng, max(1, args.namespaces))
    tiers = ["security", "platform", "default"]
    base = []
    for name, labels in nss:
        base.append("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {%s}\n"
                    % (name, ", ".join("%s: %s" % kv for kv in sorted(labels.items()))))
    for order, tier in ((100, "security"), (500, "platform")):
        base.append("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: %s\nspec:\n  order: %d\n"
                    % (tier, order))
    base.append("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: partners\n"
                "  labels: {role: partner}\nspec:\n  nets: [203.0.113.0/24, 198.51.100.7]\n")
    write_chunks(args.out, "base", base, len(base))
    pods = [pod_doc(rng, i, nss) for i in range(args.pods)]
    write_chunks(args.out, "pods", pods, args.per_file)
    policies = []
    for i in range(args.policies):
        if rng.random() < args.k8s_fraction:
            policies.append(k8s_policy(rng, i, nss))
        else:
            policies.append(calico_policy(rng, i, nss, tiers))
    write_chunks(args.out, "policies", policies, args.per_file)


if __name__ == "__main__":
    main()
