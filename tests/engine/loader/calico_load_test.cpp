// Calico v3 resources: defaults (§3.7), tiers, network sets, host endpoints,
// staged kinds, and the normaliser's effective labels and selectors (§1.6–§1.7).
#include <catch2/catch.hpp>

#include "rampart/engine/loader.h"
#include "rampart/engine/normalize.h"
#include "diagnostics_text.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

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

TEST_CASE("calico: Profile resources are loaded and validated (§3.11, §5 PR1)", "[loader][calico][profile]") {
  const LoadResult r = load_ok(
      "apiVersion: projectcalico.org/v3\n"
      "kind: Profile\n"
      "metadata: {name: dmz}\n"
      "spec:\n"
      "  labelsToApply: {zone: dmz, tier: \"\"}\n"
      "  ingress:\n"
      "  - action: Allow\n"
      "    protocol: TCP\n"
      "    source: {selector: role == 'bastion'}\n"
      "    destination: {ports: [22]}\n"
      "  - action: Deny\n"
      "  egress: [{action: Allow}]\n");
  REQUIRE(r.model.profiles.size() == 1);
  const Profile& p = r.model.profiles[0];
  CHECK(p.name == "dmz");
  CHECK(p.where.str() == "t.yaml:1:1");
  CHECK(p.labels_to_apply == Labels{{"tier", ""}, {"zone", "dmz"}});
  REQUIRE(p.ingress.size() == 2);
  CHECK(p.ingress[0].action == Action::kAllow);
  CHECK(p.ingress[0].source.selector == "role == 'bastion'");
  REQUIRE(p.ingress[0].destination.ports.size() == 1);
  CHECK(p.ingress[0].destination.ports[0].min == 22);
  CHECK(p.rules(Direction::kIngress)[1].action == Action::kDeny);
  REQUIRE(p.rules(Direction::kEgress).size() == 1);
  CHECK(r.model.policies.empty());  // a profile is not a policy
}

TEST_CASE("calico: an invalid Profile is refused with each finding located", "[loader][calico][profile]") {
  const LoadResult r = load_text(
      "apiVersion: projectcalico.org/v3\n"                // 1
      "kind: Profile\n"                                   // 2
      "metadata: {name: Bad_Name}\n"                      // 3
      "spec:\n"                                           // 4
      "  labelsToApply: {\"-bad\": x}\n"                  // 5
      "  ingres: []\n"                                    // 6
      "  egress:\n"                                       // 7
      "  - action: Maybe\n"                               // 8
      "---\n"                                             // 9
      "apiVersion: projectcalico.org/v3\n"                // 10
      "kind: Profile\n"                                   // 11
      "metadata: {name: ok}\n"                            // 12
      "---\n"                                             // 13
      "apiVersion: projectcalico.org/v3\n"                // 14
      "kind: Profile\n"                                   // 15
      "metadata: {name: ok}\n"                            // 16
      "spec: {labelsToApply: {a: b}}\n",                  // 17
      "bad.yaml");
  INFO(dump(r.diagnostics));
  auto at = [&](std::string_view id) {
    for (const auto& d : r.diagnostics)
      if (d.rule_id == id) return d.where.str();
    return std::string("none");
  };
  CHECK(at("RP1004") == "bad.yaml:3:18");
  CHECK(at("RP1007") == "bad.yaml:5:19");
  CHECK(at("RP0013") == "bad.yaml:6:3");
  CHECK(at("RP3001").starts_with("bad.yaml:8:"));
  CHECK(at("RP0015") == "bad.yaml:14:1");  // the later "ok" replaces the earlier
  REQUIRE(r.model.profiles.size() == 1);
  CHECK(r.model.profiles[0].name == "ok");
  CHECK(r.model.profiles[0].labels_to_apply == Labels{{"a", "b"}});
}

TEST_CASE("calico: profiles the decision procedure does not apply are reported (RP4004)", "[loader][calico][profile]") {
  const std::string hep =
      "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: h}\n"
      "spec: {node: n1, interfaceName: eth0, profiles: [projectcalico-default-allow, kns.prod, dmz, empty]}\n";
  const std::string profiles =
      "---\napiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {name: dmz}\n"
      "spec: {labelsToApply: {zone: dmz}}\n"
      "---\napiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {name: empty}\n"
      "---\napiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {name: kns.prod}\n"
      "spec: {ingress: [{action: Allow}], egress: [{action: Allow}]}\n"
      "---\napiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {name: kns.dev}\n"
      "spec: {ingress: [{action: Deny}], egress: [{action: Allow}]}\n"
      "---\napiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {name: projectcalico-default-allow}\n"
      "spec: {ingress: [{action: Allow}], egress: [{action: Allow}]}\n";
  const LoadResult r = load_text(hep + profiles, "p.yaml");
  INFO(dump(r.diagnostics));
  std::vector<std::string> found;
  for (const auto& d : r.diagnostics)
    if (d.rule_id == "RP4004") found.push_back(d.where.str() + " " + d.message.substr(0, d.message.find(':')));
  // kns.dev denies: the analysis keeps the generated allow-all. The HEP's
  // dmz profile gives labels the analysis does not apply; "empty" changes
  // nothing; kns.prod and projectcalico-default-allow are built in.
  CHECK(found == std::vector<std::string>{"p.yaml:20:1 profile kns.dev",
                                          "p.yaml:1:1 host endpoint h lists profile \"dmz\""});
  for (const auto& d : r.diagnostics)
    if (d.rule_id == "RP4004" && d.message.starts_with("host endpoint")) {
      REQUIRE(d.related.size() == 1);
      CHECK(d.related[0].where.str() == "p.yaml:6:1");
    }
  CHECK_FALSE(r.has_errors());
}
