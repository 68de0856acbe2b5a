// Calico v3 resources: defaults (§3.7), tiers, network sets, host endpoints,
// staged kinds, and the normaliser's effective labels and selectors (§1.6–§1.7).
#include <catch2/catch.hpp>

#include "rampart/engine/loader.h"
#include "rampart/engine/normalize.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

std::string dump(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.where.str() + ": " + d.rule_id + ": " + d.message + "\n";
  return out;
}

std::string canon(const std::string& text) {
  auto parsed = selector::Selector::parse(text);
  REQUIRE(parsed);
  return parsed->canonical();
}

LoadResult load_ok(const std::string& text) {
  LoadResult result = load_text(text, "t.yaml");
  INFO(dump(result.diagnostics));
  REQUIRE_FALSE(result.has_errors());
  return result;
}

const std::string kGnp = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n";
const std::string kNp = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\nspec:\n";

}  // namespace

TEST_CASE("calico: types defaulting (§3.7), tier and order defaults", "[loader][calico]") {
  auto types = [](const std::string& spec) {
    auto result = load_ok(kNp + spec);
    REQUIRE(result.model.policies.size() == 1);
    const auto& p = result.model.policies[0];
    CHECK(p.tier == "default");
    CHECK_FALSE(p.order);
    return std::string(p.types_ingress ? "I" : "") + (p.types_egress ? "E" : "");
  };
  CHECK(types("  selector: all()\n") == "I");
  CHECK(types("  egress: [{action: Allow}]\n") == "E");
  CHECK(types("  ingress: [{action: Allow}]\n  egress: [{action: Allow}]\n") == "IE");
  CHECK(types("  types: [Egress]\n") == "E");
}

TEST_CASE("calico: rule fields as written", "[loader][calico]") {
  auto result = load_ok(kNp + R"(  order: 12.5
  ingress:
  - action: Deny
    protocol: "17"
    notProtocol: UDPLite
    ipVersion: 4
    source:
      nets: [10.0.0.0/8]
      notSelector: app == "x"
      serviceAccounts: {names: [b, a]}
    destination:
      ports: [53, "100:200", dns]
      notPorts: [54]
  - action: Pass
    protocol: ICMP
    notICMP: {type: 3, code: 1}
)");
  const Policy& p = result.model.policies.at(0);
  REQUIRE(p.order);
  CHECK(*p.order == 12.5);
  const Rule& r = p.ingress.at(0);
  CHECK(r.action == Action::kDeny);
  CHECK(r.protocol->number == proto::kUdp);
  CHECK(r.not_protocol->number == proto::kUdpLite);
  CHECK(r.ip_version == 4);
  REQUIRE(r.destination.ports.size() == 3);
  CHECK(r.destination.ports[1].min == 100);
  CHECK(r.destination.ports[1].max == 200);
  CHECK(r.destination.ports[2].name == "dns");
  CHECK(r.destination.not_ports.at(0).min == 54);
  // notSelector in a namespaced policy: the positive selector becomes the namespace clause (§1.7 step 4).
  REQUIRE(r.source.effective_selector);
  CHECK(r.source.effective_selector->canonical() ==
        canon("(projectcalico.org/namespace == 'n') && (projectcalico.org/serviceaccount in {'a', 'b'})"));
  REQUIRE(r.source.effective_not_selector);
  CHECK(r.source.effective_not_selector->canonical() == canon("app == 'x'"));
  const Rule& pass = p.ingress.at(1);
  CHECK(pass.action == Action::kPass);
  CHECK(pass.not_icmp->type == 3);
  CHECK(pass.not_icmp->code == 1);
}

TEST_CASE("normalize: policy selectors with namespace and service-account scoping (§1.7)", "[normalize]") {
  SECTION("NetworkPolicy") {
    auto r = load_ok(kNp + "  selector: app == 'a'\n  serviceAccountSelector: role == 'x'\n");
    CHECK(r.model.policies[0].effective_selector->canonical() ==
          canon("((app == 'a') && projectcalico.org/namespace == 'n') && pcsa.role == 'x'"));
  }
  SECTION("GlobalNetworkPolicy: the all() substitution quirk reaches the user's selector") {
    auto r = load_ok(kGnp + "  selector: all()\n  namespaceSelector: team == 'a'\n");
    CHECK(r.model.policies[0].effective_selector->canonical() ==
          canon("(has(projectcalico.org/namespace)) && pcns.team == 'a'"));
  }
  SECTION("GlobalNetworkPolicy: serviceAccountSelector all()") {
    auto r = load_ok(kGnp + "  serviceAccountSelector: all()\n");
    CHECK(r.model.policies[0].effective_selector->canonical() == canon("has(projectcalico.org/serviceaccount)"));
  }
  SECTION("GlobalNetworkPolicy: nothing selects everything, host endpoints included") {
    auto r = load_ok(kGnp + "  types: [Ingress]\n");
    CHECK(r.model.policies[0].effective_selector->is_all());
  }
}

TEST_CASE("normalize: EntityRule effective selectors (§1.7)", "[normalize]") {
  auto r = load_ok(kGnp + R"(  ingress:
  - action: Allow
    source: {namespaceSelector: global()}
  - action: Allow
    source: {namespaceSelector: all(), selector: app == 'a'}
  - action: Allow
    source: {nets: [10.0.0.0/8]}
  - action: Allow
    source: {serviceAccounts: {selector: role == 'x', names: [sa]}}
  - action: Allow
    source: {notSelector: app == 'b'}
)");
  const auto& rules = r.model.policies[0].ingress;
  CHECK(rules[0].source.effective_selector->canonical() == canon("!has(projectcalico.org/namespace)"));
  CHECK(rules[1].source.effective_selector->canonical() ==
        canon("(has(projectcalico.org/namespace)) && (app == 'a')"));
  CHECK_FALSE(rules[2].source.effective_selector);  // no selector fields: any address
  CHECK(rules[3].source.effective_selector->canonical() ==
        canon("(pcsa.role == 'x') && (projectcalico.org/serviceaccount in {'sa'})"));
  CHECK_FALSE(rules[4].source.effective_selector);  // GNP notSelector alone is unscoped
  CHECK(rules[4].source.effective_not_selector);
}

TEST_CASE("normalize: effective labels of endpoints and network sets (§1.6)", "[normalize]") {
  auto r = load_ok(R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop, labels: {role: fe}}
---
apiVersion: v1
kind: Pod
metadata: {name: w, namespace: shop, labels: {app: web, projectcalico.org/namespace: fake}}
spec: {serviceAccountName: web}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: partners, namespace: shop, labels: {role: partner}}
spec: {nets: [192.0.2.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: world, labels: {role: world}}
spec: {nets: [0.0.0.0/0]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [192.168.0.1], profiles: [kns.shop]}
)");
  const Endpoint& pod = r.model.endpoints.at(0);
  const Labels expected_pod{{"app", "web"},
                            {"projectcalico.org/namespace", "shop"},
                            {"projectcalico.org/orchestrator", "k8s"},
                            {"projectcalico.org/serviceaccount", "web"},
                            {"pcns.team", "a"},
                            {"pcns.kubernetes.io/metadata.name", "shop"},
                            {"pcns.projectcalico.org/name", "shop"},
                            {"pcsa.role", "fe"},
                            {"pcsa.projectcalico.org/name", "web"}};
  CHECK(pod.effective_labels == expected_pod);
  const Endpoint& hep = r.model.endpoints.at(1);
  CHECK(hep.kind == EndpointKind::kHostEndpoint);
  CHECK(hep.ns.empty());
  CHECK(hep.ips.at(0).str() == "192.168.0.1");
  CHECK(hep.effective_labels.at("role") == "node");
  CHECK(hep.effective_labels.at("pcns.team") == "a");  // inherited from profile kns.shop
  CHECK_FALSE(hep.effective_labels.contains("projectcalico.org/namespace"));
  const NetworkSet& partners = r.model.network_sets.at(0);
  CHECK(partners.effective_labels.at("projectcalico.org/namespace") == "shop");
  CHECK(partners.effective_labels.at("pcns.team") == "a");
  const NetworkSet& world = r.model.network_sets.at(1);
  CHECK(world.effective_labels == Labels{{"role", "world"}});
}

TEST_CASE("normalize: tiers — built-ins, declared and undeclared", "[normalize]") {
  auto r = load_text(R"(apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: ops.p, namespace: n}
spec: {tier: ops}
)",
                     "t.yaml");
  const Tier* security = r.model.find_tier("security");
  REQUIRE(security);
  CHECK(security->declared);
  CHECK(security->default_action == Action::kPass);
  CHECK(*security->order == 100);
  const Tier* ops = r.model.find_tier("ops");
  REQUIRE(ops);
  CHECK_FALSE(ops->declared);
  CHECK_FALSE(ops->order);
  REQUIRE(r.model.find_tier("default"));
  CHECK(*r.model.find_tier("default")->order == 1e6);
  CHECK(r.model.find_tier("kube-admin")->default_action == Action::kPass);
  CHECK(*r.model.find_tier("kube-baseline")->order == 1e7);
  bool warned = false;
  for (const auto& d : r.diagnostics) warned = warned || d.rule_id == "RP2014";
  CHECK(warned);
}

TEST_CASE("calico: staged policies are loaded with their action", "[loader][calico]") {
  auto r = load_ok(R"(apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: s}
spec: {stagedAction: Learn, selector: all()}
---
apiVersion: projectcalico.org/v3
kind: StagedKubernetesNetworkPolicy
metadata: {name: k, namespace: n}
spec: {podSelector: {}, stagedAction: Set}
)");
  REQUIRE(r.model.policies.size() == 2);
  CHECK(r.model.policies[0].staged());
  CHECK(r.model.policies[0].staged_action == "Learn");
  CHECK(r.model.policies[1].kind == PolicyKind::kStagedKubernetesNetworkPolicy);
  CHECK(r.model.policies[1].order == 1000.0);
}

TEST_CASE("loader: a policy with an error is left out, the others stay", "[loader]") {
  auto r = load_text(kNp + "  ingress: [{action: Allow, protocol: tcp}]\n---\n" +
                         "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: q, namespace: n}\n"
                         "spec: {selector: all()}\n",
                     "t.yaml");
  REQUIRE(r.has_errors());
  REQUIRE(r.model.policies.size() == 1);
  CHECK(r.model.policies[0].name == "q");
  CHECK(r.model.policies[0].where.line == 7);  // the document after "---" on line 6
}

TEST_CASE("normalize is idempotent", "[normalize]") {
  auto r = load_ok(kGnp + "  selector: all()\n  namespaceSelector: team == 'a'\n  ingress: [{action: Allow, source: {selector: a == 'b'}}]\n");
  Model copy = r.model;
  (void)normalize(copy);
  CHECK(copy.policies[0].effective_selector->canonical() == r.model.policies[0].effective_selector->canonical());
  CHECK(copy.namespaces.size() == r.model.namespaces.size());
  CHECK(copy.tiers.size() == r.model.tiers.size());
}
