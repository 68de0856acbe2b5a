// Lint findings the session-7 review showed false (H4 #6: RV101 for DNS
// allowed by CoreDNS's named ports; H4 #7: RV007 for a same-order pair an
// earlier policy masks), each with the near miss that must still be
// reported. Manifests go through the loader, and the evaluator (an
// independent path) confirms the flow the finding is about.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"
#include "rampart/verify/lint.h"

using namespace rampart;
using namespace rampart::verify;
using engine::Diagnostic;

namespace {

engine::Model load(const std::string& yaml) {
  auto loaded = engine::load_text(yaml, "cluster.yaml");
  for (const auto& d : loaded.diagnostics) INFO(d.rule_id + " " + d.message);
  REQUIRE_FALSE(loaded.has_errors());
  return std::move(loaded.model);
}

// The three ways lint can answer: one cell (small inputs), a cell per
// namespace, and the unsliced reference path (no syntactic shortcuts, no
// guesses): all must agree.
std::vector<LintOptions> all_paths() {
  LintOptions one_cell;
  LintOptions cells;
  cells.one_cell_below = 0;
  LintOptions reference;
  reference.slicing = false;
  return {one_cell, cells, reference};
}

std::vector<Diagnostic> findings(const engine::Model& m, const char* rule_id, const LintOptions& o) {
  const auto all = semantic_lint(m, o);
  for (const auto& d : all) REQUIRE(d.rule_id != std::string("RV000"));  // nothing unknown
  std::vector<Diagnostic> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out), [&](const Diagnostic& d) { return d.rule_id == rule_id; });
  return out;
}

const engine::Policy& policy(const engine::Model& m, const std::string& name) {
  const auto it = std::find_if(m.policies.begin(), m.policies.end(), [&](const auto& p) { return p.name == name; });
  REQUIRE(it != m.policies.end());
  return *it;
}

const engine::Endpoint& pod(const engine::Model& m, const std::string& ns, const std::string& name) {
  const auto it =
      std::find_if(m.endpoints.begin(), m.endpoints.end(), [&](const auto& e) { return e.ns == ns && e.name == name; });
  REQUIRE(it != m.endpoints.end());
  return *it;
}

bool allowed(const engine::Model& m, const engine::Endpoint& src, const engine::Endpoint& dst, std::uint8_t protocol,
             std::uint16_t port) {
  engine::Evaluator ev(m);
  engine::Flow f;
  f.src = engine::FlowEnd::of(src);
  f.dst = engine::FlowEnd::of(dst);
  f.protocol = protocol;
  f.dst_port = port;
  f.src_port = 40000;
  return ev.evaluate(f).allowed;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- RV101 ------------------------------------------------------------------

constexpr const char* kNamespaces = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.1.5}
---
)";

// CoreDNS as the kube-dns Deployment declares it, `dns` on port `dns_port`.
std::string coredns(int dns_port, const std::string& extra_labels = "") {
  return R"(apiVersion: v1
kind: Pod
metadata: {name: coredns-1, namespace: kube-system, labels: {k8s-app: kube-dns)" +
         extra_labels + R"(}}
spec: {containers: [{name: coredns, image: x, ports: [{name: dns, containerPort: )" +
         std::to_string(dns_port) + R"(, protocol: UDP}, {name: dns-tcp, containerPort: 53, protocol: TCP}, {name: metrics, containerPort: 9153, protocol: TCP}]}]}
status: {podIP: 10.0.0.10}
---
)";
}

// web's egress allows DNS to kube-dns by port names (the manifest of
// lint_completeness/l13_dns_named_port), or by `ports`.
std::string egress_by(const std::string& ports, const std::string& to_pod = "{matchLabels: {k8s-app: kube-dns}}") {
  return R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: )" +
         to_pod + R"(}]
    ports: )" + ports + "\n";
}

constexpr const char* kByName = "[{port: dns, protocol: UDP}, {port: dns-tcp, protocol: TCP}]";

}  // namespace

TEST_CASE("RV101: DNS allowed by CoreDNS's port names is not reported", "[verify][lint][dns]") {
  // With the inventory's CoreDNS pod (its ports), and without it (the
  // check's DNS pod then declares CoreDNS's ports itself).
  const auto with_pod = load(std::string(kNamespaces) + coredns(53) + egress_by(kByName));
  const auto without_pod = load(std::string(kNamespaces) + egress_by(kByName));
  CHECK(allowed(with_pod, pod(with_pod, "shop", "web"), pod(with_pod, "kube-system", "coredns-1"), engine::proto::kUdp, 53));
  for (const auto& o : all_paths()) {
    CHECK(findings(with_pod, kRuleDnsBlocked, o).empty());
    CHECK(findings(without_pod, kRuleDnsBlocked, o).empty());
  }
}

TEST_CASE("RV101: a port name that is not UDP 53 on the DNS pods is still reported", "[verify][lint][dns]") {
  // The inventory's kube-dns pod serves `dns` on 5353: the rule allows
  // 5353, not the query to 53.
  const auto m = load(std::string(kNamespaces) + coredns(5353) + egress_by(kByName));
  const auto& web = pod(m, "shop", "web");
  const auto& dns = pod(m, "kube-system", "coredns-1");
  CHECK_FALSE(allowed(m, web, dns, engine::proto::kUdp, 53));
  CHECK(allowed(m, web, dns, engine::proto::kUdp, 5353));
  for (const auto& o : all_paths()) {
    const auto found = findings(m, kRuleDnsBlocked, o);
    REQUIRE(found.size() == 1);
    CHECK(found[0].where == policy(m, "web-egress").where);
    INFO(found[0].witness);
    CHECK(contains(found[0].witness, "to pod in namespace kube-system {k8s-app=kube-dns}"));
    CHECK(contains(found[0].witness, "port dns=5353/17"));
    CHECK(contains(found[0].witness, "UDP"));
    CHECK(contains(found[0].witness, "-> 53: denied"));
  }
  // Without an inventory pod: only TCP names, or `dns` over TCP, do not
  // allow CoreDNS's UDP 53.
  // The witness shows the DNS pod's ports the policy names.
  const std::vector<std::pair<std::string, std::string>> cases{{"[{port: dns-tcp, protocol: TCP}]", "port dns-tcp=53/6"},
                                                               {"[{port: dns, protocol: TCP}]", "port dns=53/17"},
                                                               {"[{port: metrics}]", "port metrics=9153/6"}};
  for (const auto& [ports, shown] : cases) {
    INFO(ports);
    const auto n = load(std::string(kNamespaces) + egress_by(ports));
    for (const auto& o : all_paths()) {
      const auto found = findings(n, kRuleDnsBlocked, o);
      REQUIRE(found.size() == 1);
      CHECK(found[0].where == policy(n, "web-egress").where);
      INFO(found[0].witness);
      CHECK(contains(found[0].witness, shown));
      CHECK(contains(found[0].witness, "-> 53: denied"));
    }
  }
}

TEST_CASE("RV101: the inventory's kube-dns pods are asked with their own labels", "[verify][lint][dns]") {
  // The rule names CoreDNS by a label the notional DNS pod does not have.
  const std::string rule = egress_by("[{port: 53, protocol: UDP}]", "{matchLabels: {app.kubernetes.io/name: coredns}}");
  const auto with_pod = load(std::string(kNamespaces) + coredns(53, ", app.kubernetes.io/name: coredns") + rule);
  CHECK(allowed(with_pod, pod(with_pod, "shop", "web"), pod(with_pod, "kube-system", "coredns-1"), engine::proto::kUdp, 53));
  const auto without_pod = load(std::string(kNamespaces) + rule);
  for (const auto& o : all_paths()) {
    CHECK(findings(with_pod, kRuleDnsBlocked, o).empty());
    // Near miss: the real pod lacks the label.
    const auto other = load(std::string(kNamespaces) + coredns(53) + rule);
    CHECK(findings(other, kRuleDnsBlocked, o).size() == 1);
    // No inventory pod: CoreDNS as deployed has no such label.
    CHECK(findings(without_pod, kRuleDnsBlocked, o).size() == 1);
  }
}

TEST_CASE("RV101: a port name after a Deny rule goes to the solver, with the same answer", "[verify][lint][dns]") {
  // The Deny rule stops the syntactic shortcut: the named port is decided
  // by the encoding of the DNS pod's ports.
  const auto calico = [](const std::string& port) {
    return std::string(R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  selector: app == 'web'
  types: [Egress]
  egress:
  - action: Deny
    protocol: TCP
    destination: {ports: [25]}
  - action: Allow
    protocol: UDP
    destination:
      selector: k8s-app == 'kube-dns'
      namespaceSelector: kubernetes.io/metadata.name == 'kube-system'
      ports: [)") + port + "]\n";
  };
  for (const auto& o : all_paths()) {
    CHECK(findings(load(std::string(kNamespaces) + calico("dns")), kRuleDnsBlocked, o).empty());
    CHECK(findings(load(std::string(kNamespaces) + coredns(53) + calico("dns")), kRuleDnsBlocked, o).empty());
    CHECK(findings(load(std::string(kNamespaces) + coredns(5353) + calico("dns")), kRuleDnsBlocked, o).size() == 1);
    CHECK(findings(load(std::string(kNamespaces) + calico("dns-tcp")), kRuleDnsBlocked, o).size() == 1);
  }
}

// ---- RV007 ------------------------------------------------------------------
namespace {

constexpr const char* kDbPods = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: x, ports: [{name: pg, containerPort: 5432}]}]}
status: {podIP: 10.0.2.2}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.2.3}
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: shop, labels: {app: batch}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.2.4}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: a-allow}
spec:
  order: 100
  selector: app == 'db'
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-deny}
spec:
  order: 100
  selector: app == 'db'
  ingress: [{action: Deny}]
---
)";

// An earlier policy for db's ingress: `ingress` its rules.
std::string earlier(const std::string& ingress, const std::string& tier_lines = "") {
  return R"(apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: )" + std::string(tier_lines.empty() ? "deny-db" : "security.deny-db") + R"(}
spec:
)" + tier_lines + R"(  order: 10
  selector: app == 'db'
  ingress: )" + ingress + "\n---\n";
}

constexpr const char* kSecurityTier = R"(apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 50}
---
)";

}  // namespace

TEST_CASE("RV007: a same-order pair that an earlier policy masks is not reported", "[verify][lint][conflict]") {
  // rv007/c5_masked_by_earlier: the earlier policy denies every ingress
  // flow of db, in the pair's tier or in an earlier tier.
  const auto same_tier = load(std::string(kDbPods) + earlier("[{action: Deny}]"));
  const auto earlier_tier = load(std::string(kSecurityTier) + kDbPods + earlier("[{action: Deny}]", "  tier: security\n"));
  for (const auto* m : {&same_tier, &earlier_tier}) {
    CHECK_FALSE(allowed(*m, pod(*m, "shop", "web"), pod(*m, "shop", "db"), engine::proto::kTcp, 5432));
    for (const auto& o : all_paths()) CHECK(findings(*m, kRuleConflict, o).empty());
  }
}

TEST_CASE("RV007: reported when some flow of the overlap reaches the pair", "[verify][lint][conflict]") {
  // The earlier policy decides web's flows only (or passes them on, or is
  // in an earlier tier that passes): batch's flows reach the pair, and only
  // the name tie-break lets a-allow win.
  const auto partial = load(std::string(kDbPods) + earlier(R"([{action: Deny, source: {selector: "app == 'web'"}}])"));
  const auto passing = load(std::string(kSecurityTier) + kDbPods + earlier("[{action: Pass}]", "  tier: security\n"));
  const auto alone = load(kDbPods);
  for (const auto* m : {&partial, &passing, &alone}) {
    CHECK(allowed(*m, pod(*m, "shop", "batch"), pod(*m, "shop", "db"), engine::proto::kTcp, 5432));
    for (const auto& o : all_paths()) {
      const auto found = findings(*m, kRuleConflict, o);
      REQUIRE(found.size() == 1);
      CHECK(found[0].where == policy(*m, "b-deny").where);
      REQUIRE(found[0].related.size() == 1);
      CHECK(found[0].related[0].where == policy(*m, "a-allow").where);
      INFO(found[0].witness);
      // The witness reaches the pair: a-allow's rule decides it.
      CHECK(contains(found[0].witness, "policy a-allow rule 0 Allow"));
      if (m == &partial) CHECK_FALSE(contains(found[0].witness, "app=web"));
    }
  }
}
