// Engine semantics that gave a wrong "allowed" (session 6 review, each case
// failed before its fix): undetermined Pass, doNotTrack/preDNAT policies on
// pods, a null namespaceSelector, host-network pods, matchExpressions values,
// a namespace claiming another's kubernetes.io/metadata.name. Session 7
// review: "isolated" for a pod only a Pass-default tier selects; namespaces
// known only by name.
#include <catch2/catch.hpp>

#include "rampart/engine/connlist.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"
#include "rampart/engine/reachability.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

constexpr const char* kPods = R"(apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: fe, namespace: other, labels: {role: fe}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.0.1.3}
---
)";

const Endpoint& pod(const Model& m, const std::string& ns, const std::string& name) {
  for (const auto& e : m.endpoints)
    if (e.ns == ns && e.name == name) return e;
  FAIL("no pod " << ns << "/" << name);
  return m.endpoints.front();
}

LoadResult load_ok(const std::string& text) {
  auto loaded = load_text(text, "h3.yaml");
  for (const auto& d : loaded.diagnostics)
    if (d.severity == Severity::kError) FAIL_CHECK(d.where.str() << ": " << d.message);
  REQUIRE_FALSE(loaded.has_errors());
  return loaded;
}

Flow tcp(const Endpoint& src, const Endpoint& dst, std::uint16_t port, std::optional<std::uint16_t> sport = {}) {
  Flow f;
  f.src = FlowEnd::of(src);
  f.dst = FlowEnd::of(dst);
  f.protocol = proto::kTcp;
  f.dst_port = port;
  f.src_port = sport;
  return f;
}

}  // namespace

// evaluator.h / docs/reachability.md: "a reported allowed holds for every
// value of the unknown". A Pass rule that tests the unknown source port is
// skipped, so the Allow after it answers for source ports the Pass would
// have sent to tier default, where db's Kubernetes policy denies.
TEST_CASE("an unknown source port never turns a Pass into an allow", "[review][eval]") {
  const auto loaded = load_ok(std::string(kPods) + R"(apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.gate}
spec:
  tier: security
  order: 1
  selector: all()
  types: [Ingress]
  ingress:
  - action: Pass
    protocol: TCP
    source: {ports: ["1000:2000"]}
  - action: Allow
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-deny-all, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
)");
  const Model& m = loaded.model;
  const Evaluator ev(m);
  const auto& web = pod(m, "prod", "web");
  const auto& db = pod(m, "prod", "db");
  REQUIRE_FALSE(ev.evaluate(tcp(web, db, 5432, 1500)).allowed);  // Pass → tier default → denied
  CHECK(ev.evaluate(tcp(web, db, 5432, 40000)).allowed);          // Allow
  // Unknown source port: "allowed" would have to hold for 1500 too.
  CHECK_FALSE(ev.evaluate(tcp(web, db, 5432)).allowed);
  // The class engine applies the same convention (reach/rules.cpp compile_rule).
  const auto reach = Reachability::compute(m);
  const auto cls = [&](const Endpoint& e) {
    return reach.class_of_endpoint(static_cast<std::size_t>(&e - m.endpoints.data()));
  };
  CHECK_FALSE(reach.allowed(cls(web), cls(db)).contains(proto::kTcp, 5432));
}

// Felix gives a workload endpoint only the normal pipeline's tiers:
// doNotTrack and preDNAT policies go to host endpoints' untracked / pre-DNAT
// pipelines (felix/calc/event_sequencer.go tierInfoToProtoTierInfo and
// flushEndpointTierUpdates; calico-semantics.md §4.1, §4.8).
TEST_CASE("doNotTrack and preDNAT policies do not apply to pods", "[review][eval]") {
  for (const char* flag : {"doNotTrack: true", "preDNAT: true"}) {
    INFO(flag);
    const auto loaded = load_ok(std::string(kPods) + R"(apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-infra}
spec:
  order: 10
  selector: all()
  applyOnForward: true
  )" + flag + R"(
  types: [Ingress]
  ingress:
  - action: Allow
    source: {nets: [10.0.0.0/8]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-deny-all, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
)");
    const Model& m = loaded.model;
    const Evaluator ev(m);
    CHECK_FALSE(ev.evaluate(tcp(pod(m, "prod", "web"), pod(m, "prod", "db"), 5432, 40000)).allowed);
    const auto reach = Reachability::compute(m);
    const auto cls = [&](const Endpoint& e) {
      return reach.class_of_endpoint(static_cast<std::size_t>(&e - m.endpoints.data()));
    };
    CHECK_FALSE(reach.allowed(cls(pod(m, "prod", "web")), cls(pod(m, "prod", "db"))).contains(proto::kTcp, 5432));
    // Nor does its tier become applicable: web (no other policy) stays open.
    CHECK(ev.evaluate(tcp(pod(m, "prod", "db"), pod(m, "prod", "web"), 80, 40000)).allowed);
  }
}

// `namespaceSelector:` with no value is JSON null: a nil *LabelSelector, the
// field absent (kubernetes.io NetworkPolicyPeer; calico-semantics.md §4.9:
// nil namespaceSelector → the policy's namespace). Not `{}` (all namespaces).
TEST_CASE("a null namespaceSelector in a peer means the policy's namespace", "[review][loader][k8s]") {
  const auto loaded = load_ok(std::string(kPods) + R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-fe, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {role: fe}}
      namespaceSelector:
)");
  const Model& m = loaded.model;
  const Evaluator ev(m);
  CHECK_FALSE(ev.evaluate(tcp(pod(m, "other", "fe"), pod(m, "prod", "db"), 5432, 40000)).allowed);
}

// A host-networked pod is not a workload endpoint (libcalico-go
// k8s/conversion/conversion.go IsValidCalicoWorkloadEndpoint); its podIP is
// the node's address, which must not join pod selector sets.
TEST_CASE("a hostNetwork pod is not an endpoint", "[review][loader][k8s]") {
  const auto loaded = load_text(std::string(kPods) + R"(apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: prod, labels: {app: agent}}
spec: {nodeName: node-2, hostNetwork: true, containers: [{name: c, image: x}]}
status: {podIP: 10.0.9.1, hostIP: 10.0.9.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-agent, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: agent}}
)", "h3.yaml");
  const Model& m = loaded.model;
  for (const auto& e : m.endpoints) CHECK(e.name != "node-agent");
  // The node's address (any host process there) must not be admitted to db.
  const Evaluator ev(m);
  Flow f = tcp(pod(m, "prod", "web"), pod(m, "prod", "db"), 5432, 40000);
  f.src = FlowEnd::external(*IpAddress::parse("10.0.9.1"));
  CHECK_FALSE(ev.evaluate(f).allowed);
}

// The API server refuses matchExpressions values that are not label values
// (metav1 validation ValidateLabelSelectorRequirement); the loader pastes
// them into selector text unchecked (kubernetes_policy.cpp convert_selector),
// so a value can rewrite the selector.
TEST_CASE("matchExpressions values are checked as label values", "[review][loader][k8s]") {
  const auto loaded = load_text(std::string(kPods) + R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-x, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchExpressions:
        - {key: role, operator: In, values: ["fe' } || has(app) || role in { 'x"]}
)", "h3.yaml");
  // An error, and the policy is dropped as the API server would refuse it
  // (not kept with a rewritten selector).
  CHECK(loaded.has_errors());
  bool rp5010 = false;
  for (const auto& d : loaded.diagnostics) rp5010 = rp5010 || d.rule_id == "RP5010";
  CHECK(rp5010);
  for (const auto& p : loaded.model.policies) CHECK(p.name != "db-from-x");
}

// The API server sets kubernetes.io/metadata.name to the namespace's own name
// and overwrites a written value (NamespaceDefaultLabelName, GA 1.22);
// normalize.cpp keeps the written one (try_emplace), so namespace "evil"
// that claims metadata.name=prod passes prod's namespaceSelector.
TEST_CASE("kubernetes.io/metadata.name is always the namespace's name", "[review][normalize]") {
  const auto loaded = load_ok(R"(apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Namespace
metadata:
  name: evil
  labels: {kubernetes.io/metadata.name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: x, namespace: evil, labels: {app: x}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.5.5}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-prod-only, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: prod}}
)");
  const Model& m = loaded.model;
  const Evaluator ev(m);
  CHECK_FALSE(ev.evaluate(tcp(pod(m, "evil", "x"), pod(m, "prod", "db"), 5432, 40000)).allowed);
}

namespace {

bool reports(const LoadResult& loaded, std::string_view rule_id) {
  for (const auto& d : loaded.diagnostics)
    if (d.rule_id == rule_id && d.severity == Severity::kError) return true;
  return false;
}

}  // namespace

// A misspelt key in a policy's spec drops the criterion it was meant to hold
// (here the rule's source, the Kubernetes rule's peers), so the rule would
// allow every source. kubectl (strict field validation) and calicoctl refuse
// the object: an error, and the policy is left out as the API server would.
TEST_CASE("an unknown field in a policy's spec is an error that refuses the policy", "[review][loader]") {
  const auto loaded = load_text(std::string(kPods) + R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-in, namespace: prod}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    sourse: {selector: app == 'admin'}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-k8s, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - frm:
    - podSelector: {matchLabels: {app: admin}}
)", "h3.yaml");
  CHECK(reports(loaded, "RP0019"));
  CHECK(loaded.model.policies.empty());
  // Elsewhere an unknown field stays a warning: the pod is still read.
  const auto pod_typo = load_text(R"(apiVersion: v1
kind: Pod
metadata: {name: p, namespace: prod, labelz: {a: b}}
spec: {containers: [{name: c, image: x}]}
)", "pod.yaml");
  CHECK_FALSE(pod_typo.has_errors());
  CHECK(pod_typo.model.endpoints.size() == 1);
}

// A bare "-" under from:/to: is an empty peer, and a null matchExpressions
// item an empty requirement: the API server refuses both. Dropped silently,
// the rule would be left with no peer (every peer) or the selector with no
// requirement (every pod).
TEST_CASE("a null peer or a null matchExpressions item is an error", "[review][loader][k8s]") {
  const auto null_peer = load_text(std::string(kPods) + R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-nowhere, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    -
)", "h3.yaml");
  CHECK(reports(null_peer, "RP5012"));
  CHECK(null_peer.model.policies.empty());
  const auto null_expression = load_text(std::string(kPods) + R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-x, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector:
        matchExpressions:
        -
)", "h3.yaml");
  CHECK(reports(null_expression, "RP5010"));
  CHECK(null_expression.model.policies.empty());
}

// A policy whose kind is misspelt does not exist; a note would hide that.
// Real kinds Rampart does not read stay notes (RP0011).
TEST_CASE("a misspelt policy kind is a warning, other kinds a note", "[review][loader]") {
  const auto loaded = load_text(R"(apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolcy
metadata: {name: deny-all}
spec: {selector: all(), types: [Ingress]}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool}
---
apiVersion: projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata: {name: old-group}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: anp}
)", "kinds.yaml");
  std::vector<std::string> ids;
  for (const auto& d : loaded.diagnostics) ids.push_back(d.rule_id);
  // The right kind in the wrong group is an unsupported apiVersion, not a
  // typo; an admin network policy is enforced by Calico, so a warning.
  CHECK(ids == std::vector<std::string>{"RP0020", "RP0011", "RP0011", "RP0016", "RP0021"});
}

// kubectl and calicoctl parse YAML 1.1: an unquoted 017 is octal 15 there,
// 0x50 is 80 and true a boolean; this reader (YAML 1.2) would have taken 17,
// a port named "0x50" and one named "true". Refused with the reading named.
TEST_CASE("ports that YAML 1.1 reads differently are errors", "[review][loader]") {
  for (const char* port : {"017", "0x50", "true", "1_000", "0o17", "0X50", "8e1", "80.0"}) {
    INFO(port);
    const auto k8s = load_text(std::string(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: prod}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: )") + port + "}]\n", "k8s.yaml");
    CHECK(reports(k8s, "RP0012"));
    const auto calico = load_text(std::string(R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p, namespace: prod}
spec:
  ingress:
  - action: Allow
    protocol: TCP
    destination: {ports: [)") + port + "]}\n", "calico.yaml");
    CHECK(reports(calico, "RP0012"));
  }
  // Decimal, and quoted names, read the same in both.
  const auto fine = load_text(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: prod}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 17}, {port: "http"}, {port: 8080}]
)", "fine.yaml");
  CHECK_FALSE(fine.has_errors());
}

TEST_CASE("a pod selected only through a Pass-default tier is not isolated", "[review][reach]") {
  const std::string security = R"(apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.block-metadata}
spec:
  tier: security
  order: 20
  selector: projectcalico.org/orchestrator == 'k8s'
  types: [Ingress, Egress]
  ingress:
  - action: Deny
    source: {nets: [192.0.2.0/24]}
  egress:
  - action: Deny
    destination: {nets: [169.254.169.254/32]}
---
)";
  auto isolation = [](const LoadResult& loaded, const std::string& name) {
    const auto& m = loaded.model;
    const auto reach = Reachability::compute(m);
    std::size_t i = 0;
    while (i < m.endpoints.size() && !(m.endpoints[i].ns == "prod" && m.endpoints[i].name == name)) ++i;
    REQUIRE(i < m.endpoints.size());
    const auto c = reach.class_of_endpoint(i);
    return std::pair{reach.isolated(c, Direction::kIngress), reach.isolated(c, Direction::kEgress)};
  };
  {
    const auto loaded = load_ok(std::string(kPods) + security);
    // Every flow the tier does not deny passes on to the namespace profile.
    const auto& m = loaded.model;
    CHECK(Evaluator(m).evaluate(tcp(pod(m, "prod", "web"), pod(m, "prod", "db"), 5432)).allowed);
    CHECK(isolation(loaded, "db") == std::pair{false, false});
    CHECK(isolated_workloads(m, Reachability::compute(m)).lines.empty());
  }
  {  // A Kubernetes policy (default tier, Deny at its end) isolates db's ingress.
    const auto loaded = load_ok(std::string(kPods) + security + R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
)");
    CHECK(isolation(loaded, "db") == std::pair{true, false});
    CHECK(isolation(loaded, "web") == std::pair{false, false});
  }
  {  // A Pass rule in a Deny tier hands some flows on: not isolated either.
    const auto loaded = load_ok(std::string(kPods) + R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - action: Pass
    protocol: TCP
    destination: {ports: [5432]}
)");
    CHECK(isolation(loaded, "db") == std::pair{false, false});
  }
}

TEST_CASE("a namespace known only because an object lives in it is not declared", "[review][normalize]") {
  const auto loaded = load_ok(std::string(kPods) + R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
)");
  const auto* shop = loaded.model.find_namespace("shop");
  REQUIRE(shop != nullptr);
  CHECK_FALSE(shop->declared);
  CHECK(shop->labels.at("kubernetes.io/metadata.name") == "shop");
  const auto* prod = loaded.model.find_namespace("prod");
  REQUIRE(prod != nullptr);
  CHECK(prod->declared);
}

// Session 7 review (H4 #5): a pod without status.podIP (the usual manifest)
// matched no nets and every notNets, so a Deny on nets never fired and an
// Allow on notNets always did. Its address is unknown: an "allowed" must hold
// for every address it may get (evaluator.h, docs/reachability.md).
namespace {

constexpr const char* kAddresslessPods = R"(apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: app, labels: {app: db}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 5432}]}]}
---
)";

bool list_has(const Model& m, const std::string& src, const std::string& dst) {
  const auto list = build_connlist(m, Reachability::compute(m));
  for (const auto& l : list.lines)
    if (l.src.find(src) != std::string::npos && l.dst.find(dst) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a pod without an address is undetermined for nets and notNets", "[review][eval][reach]") {
  SECTION("a Deny on nets may fire: not allowed") {
    const auto loaded = load_ok(std::string(kAddresslessPods) + R"(apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-pod-cidr-to-db}
spec:
  order: 10
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - action: Deny
    source: {nets: [10.244.0.0/16]}
  - action: Allow
)");
    const Model& m = loaded.model;
    const auto& web = pod(m, "app", "web");
    const auto& db = pod(m, "app", "db");
    REQUIRE(web.ips.empty());
    CHECK_FALSE(Evaluator(m).evaluate(tcp(web, db, 5432)).allowed);
    const auto reach = Reachability::compute(m);
    const auto cls = [&](const Endpoint& e) {
      return reach.class_of_endpoint(static_cast<std::size_t>(&e - m.endpoints.data()));
    };
    CHECK(reach.allowed(cls(web), cls(db)).empty());
    CHECK_FALSE(list_has(m, "app/web", "app/db"));
    // Control: an address outside the net is allowed by the second rule.
    Flow outside = tcp(web, db, 5432);
    outside.src.ip = IpAddress::v4(0x0a010005);  // 10.1.0.5
    CHECK(Evaluator(m).evaluate(outside).allowed);
  }
  SECTION("an Allow on notNets may not match: not allowed; a known outside address still is") {
    const auto loaded = load_ok(std::string(kAddresslessPods) + R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-from-outside, namespace: app}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - action: Allow
    source: {notNets: [10.0.0.0/8]}
)");
    const Model& m = loaded.model;
    const auto& web = pod(m, "app", "web");
    const auto& db = pod(m, "app", "db");
    CHECK_FALSE(Evaluator(m).evaluate(tcp(web, db, 5432)).allowed);
    const auto reach = Reachability::compute(m);
    const auto cls = [&](const Endpoint& e) {
      return reach.class_of_endpoint(static_cast<std::size_t>(&e - m.endpoints.data()));
    };
    CHECK(reach.allowed(cls(web), cls(db)).empty());
    CHECK_FALSE(list_has(m, "app/web", "app/db"));
    Flow from_outside;
    from_outside.src = FlowEnd::external(IpAddress::v4(0xc0000201));  // 192.0.2.1
    from_outside.dst = FlowEnd::of(db);
    from_outside.protocol = proto::kTcp;
    from_outside.dst_port = 5432;
    CHECK(Evaluator(m).evaluate(from_outside).allowed);
    // Some external block (outside 10.0.0.0/8) reaches db in the list.
    bool external_line = false;
    for (const auto& l : build_connlist(m, Reachability::compute(m)).lines)
      external_line = external_line || (l.dst.find("app/db") != std::string::npos &&
                                         l.src.find("app/") == std::string::npos);
    CHECK(external_line);
  }
}
