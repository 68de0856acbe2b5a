// Kubernetes NetworkPolicy → Calico policy, checked against
// calico-semantics.md §4.9 (the worked example) and Calico's conversion rules.
#include <catch2/catch.hpp>

#include "rampart/engine/loader.h"
#include "rampart/engine/normalize.h"
#include "diagnostics_text.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

std::string ports_text(const std::vector<PortSpec>& ports) {
  std::string out;
  for (const auto& p : ports) {
    if (!out.empty()) out += ", ";
    if (p.is_named()) out += p.name;
    else if (p.min == p.max) out += std::to_string(p.min);
    else out += std::to_string(p.min) + ":" + std::to_string(p.max);
  }
  return out;
}

std::string canon(const char* text) {
  auto parsed = selector::Selector::parse(text);
  REQUIRE(parsed);
  return parsed->canonical();
}

const char* kWorkedExample = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db
  namespace: prod
spec:
  podSelector:
    matchLabels: {app: db}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {matchLabels: {role: fe}}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports:
    - port: 5432
    - {protocol: UDP, port: 53}
    - {port: 8000, endPort: 8080}
)";

}  // namespace

TEST_CASE("k8s conversion: the worked example of calico-semantics.md §4.9", "[loader][k8s]") {
  const LoadResult result = load_text(kWorkedExample, "worked.yaml");
  INFO(dump(result.diagnostics));
  REQUIRE_FALSE(result.has_errors());
  REQUIRE(result.model.policies.size() == 1);
  const Policy& p = result.model.policies[0];
  CHECK(p.kind == PolicyKind::kKubernetesNetworkPolicy);
  CHECK(p.tier == "default");
  REQUIRE(p.order);
  CHECK(*p.order == 1000.0);
  CHECK(p.selector == "projectcalico.org/orchestrator == 'k8s' && app == 'db'");
  CHECK(p.types_ingress);
  CHECK_FALSE(p.types_egress);
  REQUIRE(p.effective_selector);
  CHECK(p.effective_selector->canonical() ==
        selector::Selector::parse("(projectcalico.org/orchestrator == 'k8s' && app == 'db') && "
                                  "projectcalico.org/namespace == 'prod'")
            ->canonical());
  REQUIRE(p.ingress.size() == 4);
  const auto pod_peer = selector::Selector::parse(
                            "(pcns.team == \"a\") && (projectcalico.org/orchestrator == 'k8s' && role == 'fe')")
                            ->canonical();
  // Rules 1–2: TCP, peers in the order written; rules 3–4: UDP.
  for (int i = 0; i < 4; ++i) {
    const Rule& r = p.ingress[static_cast<std::size_t>(i)];
    CAPTURE(i);
    CHECK(r.action == Action::kAllow);
    REQUIRE(r.protocol);
    CHECK(r.protocol->written == (i < 2 ? "TCP" : "UDP"));
    CHECK(ports_text(r.destination.ports) == (i < 2 ? "5432, 8000:8080" : "53"));
    if (i % 2 == 0) {
      REQUIRE(r.source.effective_selector);
      CHECK(r.source.effective_selector->canonical() == pod_peer);
      CHECK(r.source.nets.empty());
    } else {
      CHECK_FALSE(r.source.effective_selector);
      REQUIRE(r.source.nets.size() == 1);
      CHECK(r.source.nets[0].str() == "10.0.0.0/8");
      REQUIRE(r.source.not_nets.size() == 1);
      CHECK(r.source.not_nets[0].str() == "10.1.0.0/16");
    }
  }
  CHECK(p.ingress[0].where == SourceLocation{"worked.yaml", 11, 5});
}

TEST_CASE("k8s conversion: policyTypes defaulting", "[loader][k8s]") {
  auto types = [](const char* spec) {
    const std::string text = std::string("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
                                         "spec:\n") + spec;
    auto result = load_text(text, "t.yaml");
    REQUIRE(result.model.policies.size() == 1);
    const auto& p = result.model.policies[0];
    return std::string(p.types_ingress ? "I" : "") + (p.types_egress ? "E" : "");
  };
  CHECK(types("  podSelector: {}\n") == "I");
  CHECK(types("  podSelector: {}\n  egress: [{}]\n") == "IE");
  CHECK(types("  podSelector: {}\n  egress: []\n") == "I");
  CHECK(types("  podSelector: {}\n  policyTypes: [Egress]\n") == "E");
  CHECK(types("  podSelector: {}\n  policyTypes: [Egress, Ingress]\n") == "IE");
}

TEST_CASE("k8s conversion: ports are merged per protocol and protocols sorted", "[loader][k8s]") {
  const char* text = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: n}
spec:
  podSelector: {}
  egress:
  - to: [{podSelector: {}}]
    ports:
    - {protocol: UDP, port: 53}
    - {port: 82}
    - {port: 80}
    - {port: 81}
    - {port: 9090}
    - {port: foo}
    - {protocol: SCTP}
    - {protocol: SCTP, port: 7}
)";
  auto result = load_text(text, "p.yaml");
  INFO(dump(result.diagnostics));
  REQUIRE_FALSE(result.has_errors());
  const auto& rules = result.model.policies.at(0).egress;
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].protocol->written == "SCTP");
  CHECK(rules[0].destination.ports.empty());  // a port entry without port: all SCTP ports
  CHECK(rules[1].protocol->written == "TCP");
  CHECK(ports_text(rules[1].destination.ports) == "80:82, 9090, foo");
  CHECK(rules[2].protocol->written == "UDP");
  CHECK(ports_text(rules[2].destination.ports) == "53");
  // Egress: the peer goes to the destination, scoped to the policy's namespace.
  REQUIRE(rules[1].destination.effective_selector);
  CHECK(rules[1].destination.effective_selector->canonical() ==
        canon("(projectcalico.org/namespace == 'n') && (projectcalico.org/orchestrator == 'k8s')"));
  CHECK_FALSE(rules[1].source.effective_selector);
}

TEST_CASE("k8s conversion: a rule without ports or peers allows everything", "[loader][k8s]") {
  auto result = load_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
                          "spec:\n  podSelector: {}\n  ingress: [{}]\n",
                          "p.yaml");
  REQUIRE(result.model.policies.size() == 1);
  const auto& p = result.model.policies[0];
  CHECK(p.ns == "default");
  REQUIRE(p.ingress.size() == 1);
  CHECK_FALSE(p.ingress[0].protocol);
  CHECK_FALSE(p.ingress[0].source.effective_selector);
  CHECK(p.ingress[0].destination.ports.empty());
}

TEST_CASE("k8s conversion: matchExpressions and namespaceSelector forms", "[loader][k8s]") {
  const char* text = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: n}
spec:
  podSelector:
    matchLabels: {z: "1", a: "2"}
    matchExpressions:
    - {key: tier, operator: In, values: [b, a]}
    - {key: env, operator: NotIn, values: [prod]}
    - {key: x, operator: Exists}
    - {key: y, operator: DoesNotExist}
  ingress:
  - from:
    - namespaceSelector: {}
    - namespaceSelector: {matchLabels: {k: v}}
)";
  auto result = load_text(text, "p.yaml");
  INFO(dump(result.diagnostics));
  REQUIRE_FALSE(result.has_errors());
  const auto& p = result.model.policies.at(0);
  CHECK(p.selector ==
        "projectcalico.org/orchestrator == 'k8s' && a == '2' && z == '1' && tier in { 'b', 'a' } && "
        "env not in { 'prod' } && has(x) && ! has(y)");
  REQUIRE(p.ingress.size() == 2);
  CHECK(p.ingress[0].source.namespace_selector == "all()");
  CHECK(p.ingress[0].source.selector == "projectcalico.org/orchestrator == 'k8s'");
  CHECK(p.ingress[0].source.effective_selector->canonical() ==
        canon("(has(projectcalico.org/namespace)) && (projectcalico.org/orchestrator == 'k8s')"));
  CHECK(p.ingress[1].source.effective_selector->canonical() ==
        canon("(pcns.k == 'v') && (projectcalico.org/orchestrator == 'k8s')"));
}

TEST_CASE("k8s workloads: one endpoint per workload, named ports, service account, owner", "[loader][k8s]") {
  const char* text = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web-sa
      containers:
      - name: c
        ports:
        - {name: http, containerPort: 8080}
        - {name: dns, containerPort: 53, protocol: UDP}
        - {containerPort: 9000}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        metadata: {labels: {job: nightly}}
        spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: pod-1
  namespace: shop
  labels: {app: api, pcns.evil: "1"}
  ownerReferences: [{kind: ReplicaSet, name: api-5d9f, controller: true}]
spec: {containers: [{name: c}]}
status:
  podIP: 10.0.0.5
  podIPs: [{ip: 10.0.0.5}, {ip: "fd00::5"}]
)";
  auto result = load_text(text, "w.yaml");
  INFO(dump(result.diagnostics));
  REQUIRE_FALSE(result.has_errors());
  REQUIRE(result.model.endpoints.size() == 3);
  const Endpoint& web = result.model.endpoints[0];
  CHECK(web.name == "web");
  CHECK(web.ns == "shop");
  CHECK(web.owner.kind == "Deployment");
  CHECK(web.owner.name == "web");
  CHECK(web.service_account == "web-sa");
  REQUIRE(web.ports.size() == 2);
  CHECK(web.ports[0].name == "http");
  CHECK(web.ports[0].port == 8080);
  CHECK(web.ports[1].protocol == proto::kUdp);
  CHECK(web.effective_labels.at("projectcalico.org/serviceaccount") == "web-sa");
  CHECK(web.effective_labels.at("pcsa.projectcalico.org/name") == "web-sa");
  CHECK(web.effective_labels.at("pcns.kubernetes.io/metadata.name") == "shop");

  const Endpoint& job = result.model.endpoints[1];
  CHECK(job.ns == "default");
  CHECK(job.owner.kind == "CronJob");
  CHECK(job.labels.at("job") == "nightly");

  const Endpoint& pod = result.model.endpoints[2];
  CHECK(pod.owner.kind == "ReplicaSet");
  CHECK(pod.owner.name == "api-5d9f");
  REQUIRE(pod.ips.size() == 2);
  CHECK(pod.ips[0].str() == "10.0.0.5");
  CHECK(pod.ips[1].family == 6);
  CHECK_FALSE(pod.effective_labels.contains("pcns.evil"));  // a pod cannot impersonate its namespace
  CHECK(pod.effective_labels.at("projectcalico.org/namespace") == "shop");
  CHECK(pod.effective_labels.at("projectcalico.org/orchestrator") == "k8s");
  // Namespaces referenced but not declared exist with their metadata.name label.
  const Namespace* shop = result.model.find_namespace("shop");
  REQUIRE(shop);
  CHECK(shop->labels == Labels{{"kubernetes.io/metadata.name", "shop"}});
  CHECK(result.model.find_namespace("default"));
}

TEST_CASE("k8s lists: PodList, NamespaceList and List, in YAML and JSON", "[loader][k8s]") {
  const char* json = R"({"apiVersion": "v1", "kind": "NamespaceList", "items": [
    {"metadata": {"name": "a", "labels": {"team": "x"}}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}]})";
  auto result = load_text(json, "ns.json");
  INFO(dump(result.diagnostics));
  REQUIRE_FALSE(result.has_errors());
  REQUIRE(result.model.find_namespace("a"));
  CHECK(result.model.find_namespace("a")->labels.at("team") == "x");
  REQUIRE(result.model.find_namespace("b"));

  const char* list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n"
                     "- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: np}\n"
                     "  spec: {podSelector: {}}\n";
  auto mixed = load_text(list, "list.yaml");
  INFO(dump(mixed.diagnostics));
  CHECK(mixed.model.endpoints.size() == 1);
  CHECK(mixed.model.policies.size() == 1);
}
