#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "manifests.h"
#include "rampart/enforcer/manifest.h"
#include "rampart/enforcer/resource.h"
#include "rampart/enforcer/resource_store.h"

using namespace rampart;
using namespace rampart::enforcer;
using namespace rampart::test;

TEST_CASE("storage keys round-trip for every kind", "[unit]") {
  for (auto kind : kAllResourceKinds) {
    const ResourceKey key{kind, is_namespaced(kind) ? "prod" : "", "obj-1"};
    const std::string path = storage_key("/rampart/v1/", key);
    auto back = parse_storage_key("/rampart/v1", path);
    REQUIRE(back);
    CHECK(*back == key);
  }
  CHECK(storage_key("/rampart/v1", ResourceKey{ResourceKind::kNetworkPolicy, "prod", "a"}) ==
        "/rampart/v1/networkpolicies/prod/a");
  CHECK(storage_key("/p/", ResourceKey{ResourceKind::kTier, "", "security"}) == "/p/tiers/security");
  CHECK_FALSE(parse_storage_key("/p/", "/p/networkpolicies/a"));        // namespace missing
  CHECK_FALSE(parse_storage_key("/p/", "/p/tiers/a/b"));                // too many parts
  CHECK_FALSE(parse_storage_key("/p/", "/p/deployments/x/y"));          // not a kind
  CHECK_FALSE(parse_storage_key("/p/", "/q/tiers/a"));                  // other prefix
}

TEST_CASE("kinds parse from the names users type", "[unit]") {
  CHECK(parse_kind("networkpolicy").value() == ResourceKind::kNetworkPolicy);
  CHECK(parse_kind("NetworkPolicies").value() == ResourceKind::kNetworkPolicy);
  CHECK(parse_kind("gnp").value() == ResourceKind::kGlobalNetworkPolicy);
  CHECK(parse_kind("knp").value() == ResourceKind::kKubernetesNetworkPolicy);
  CHECK(parse_kind("pods").value() == ResourceKind::kPod);
  CHECK_FALSE(parse_kind("deployment"));
}

TEST_CASE("a manifest decodes into typed resources with their JSON documents", "[unit]") {
  const std::string text = namespace_doc("prod") + "---\n" + calico_policy("prod", "allow-web", 8080) + "---\n" +
                           kubernetes_policy("prod", "db") + "---\n" + pod_doc("prod", "web-1", "10.244.1.5") +
                           "---\n" + global_set("partners");
  const Manifest m = decode_manifest(text, "m.yaml");
  INFO(m.error_summary());
  REQUIRE(m.ok());
  REQUIRE(m.resources.size() == 5);
  CHECK(m.resources[0].key == ResourceKey{ResourceKind::kNamespace, "", "prod"});
  CHECK(m.resources[1].key == ResourceKey{ResourceKind::kNetworkPolicy, "prod", "allow-web"});
  CHECK(m.resources[2].key == ResourceKey{ResourceKind::kKubernetesNetworkPolicy, "prod", "db"});
  CHECK(m.resources[3].key == ResourceKey{ResourceKind::kPod, "prod", "web-1"});
  CHECK(m.resources[4].key == ResourceKey{ResourceKind::kGlobalNetworkSet, "", "partners"});

  const auto& policy = std::get<engine::Policy>(m.resources[1].value);
  CHECK(policy.selector == "app == 'web'");
  REQUIRE(policy.ingress.size() == 1);
  CHECK(policy.ingress[0].destination.ports.at(0).min == 8080);
  CHECK(m.resources[1].where.line == 8);  // after namespace_doc's 6 lines and "---"

  // The stored JSON is the document, with YAML's plain scalars typed and quoted ones kept as strings.
  const auto json = nlohmann::json::parse(m.resources[3].json);
  CHECK(json["metadata"]["labels"]["version"] == "1.10");
  CHECK(json["spec"]["containers"][0]["ports"][0]["containerPort"] == 80);
  const auto& pod = std::get<engine::Endpoint>(m.resources[3].value);
  CHECK(pod.labels.at("version") == "1.10");
  REQUIRE(pod.ips.size() == 1);
  CHECK(pod.ips[0].str() == "10.244.1.5");

  // The JSON decodes back to the same resource.
  for (const auto& r : m.resources) {
    auto again = decode_stored(r.json, r.key, "etcd:test");
    REQUIRE(again);
    REQUIRE(*again);
    CHECK((*again)->json == r.json);
  }
}

TEST_CASE("a manifest with one invalid object is refused whole, with file:line:col", "[unit]") {
  const std::string text = calico_policy("prod", "good", 80) + "---\n" + invalid_policy("prod", "bad");
  const Manifest m = decode_manifest(text, "bad.yaml");
  CHECK_FALSE(m.ok());
  CHECK(m.resources.empty());
  CHECK(m.error_summary().find("bad.yaml:") != std::string::npos);
}

TEST_CASE("a stored document must be the object its key names", "[unit]") {
  const Manifest m = decode_manifest(calico_policy("prod", "a", 80), "a.yaml");
  REQUIRE(m.ok());
  auto wrong = decode_stored(m.resources[0].json, ResourceKey{ResourceKind::kNetworkPolicy, "prod", "b"}, "etcd:k");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message.find("expected NetworkPolicy prod/b") != std::string::npos);
  CHECK_FALSE(decode_stored("{not json", ResourceKey{ResourceKind::kNetworkPolicy, "prod", "a"}, "etcd:k"));
  CHECK_FALSE(decode_stored("", ResourceKey{ResourceKind::kNetworkPolicy, "prod", "a"}, "etcd:k"));
}

TEST_CASE("a finished pod (Succeeded, Failed) is no resource: its key reads as deleted", "[unit]") {
  auto pod = [](const std::string& name, const std::string& phase) {
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: prod}\n"
           "spec: {nodeName: n1, containers: [{name: c}]}\nstatus: {phase: " + phase + ", podIP: 10.0.0.7}\n";
  };
  const ResourceKey done{ResourceKind::kPod, "prod", "done"};
  const Manifest m = decode_manifest(pod("done", "Succeeded") + "---\n" + pod("run", "Running") + "---\n" +
                                         pod("crash", "Failed"),
                                     "pods.yaml");
  REQUIRE(m.ok());
  REQUIRE(m.resources.size() == 1);
  CHECK(m.resources[0].key.name == "run");
  CHECK(m.finished == std::vector<ResourceKey>{done, ResourceKey{ResourceKind::kPod, "prod", "crash"}});

  // The same pod twice: the later document wins, whichever of the two has finished.
  const Manifest ended = decode_manifest(pod("done", "Running") + "---\n" + pod("done", "Succeeded"), "a.yaml");
  CHECK(ended.resources.empty());
  CHECK(ended.finished == std::vector<ResourceKey>{done});
  const Manifest restarted = decode_manifest(pod("done", "Succeeded") + "---\n" + pod("done", "Running"), "b.yaml");
  REQUIRE(restarted.resources.size() == 1);
  CHECK(restarted.finished.empty());

  // As an etcd value: no resource and no error.
  const auto stored = decode_stored(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"done","namespace":"prod"},)"
                                    R"("spec":{"containers":[{"name":"c"}]},"status":{"phase":"Failed","podIP":"10.0.0.7"}})",
                                    done, "etcd:k");
  REQUIRE(stored);
  CHECK_FALSE(stored->has_value());
  CHECK_FALSE(decode_stored(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"done","namespace":"prod"},)"
                            R"("status":{"phase":"Failed"}})",
                            ResourceKey{ResourceKind::kPod, "prod", "other"}, "etcd:k"));
}

TEST_CASE("workload kinds are not stored; List kinds are expanded", "[unit]") {
  const std::string text =
      "apiVersion: v1\nkind: List\nitems:\n"
      "  - apiVersion: projectcalico.org/v3\n    kind: GlobalNetworkSet\n    metadata: {name: a}\n"
      "    spec: {nets: [192.0.2.0/24]}\n"
      "  - apiVersion: projectcalico.org/v3\n    kind: Tier\n    metadata: {name: security}\n"
      "    spec: {order: 10}\n";
  const Manifest m = decode_manifest(text, "list.yaml");
  INFO(m.error_summary());
  REQUIRE(m.ok());
  REQUIRE(m.resources.size() == 2);
  CHECK(m.resources[0].key.kind == ResourceKind::kGlobalNetworkSet);
  CHECK(m.resources[1].key == ResourceKey{ResourceKind::kTier, "", "security"});
}

TEST_CASE("a store turns a relist into the difference", "[unit]") {
  const Manifest m = decode_manifest(calico_policy("a", "p1", 80) + "---\n" + calico_policy("a", "p2", 81), "x");
  REQUIRE(m.ok());
  ResourceStore store;
  for (const auto& r : m.resources) CHECK(store.apply(ResourceUpdate{UpdateType::kAdd, r.key, r, 1}));
  CHECK_FALSE(store.apply(ResourceUpdate{UpdateType::kModify, m.resources[0].key, m.resources[0], 2}));

  const Manifest changed = decode_manifest(calico_policy("a", "p2", 82) + "---\n" + calico_policy("a", "p3", 83), "y");
  REQUIRE(changed.ok());
  ResourceStore::Map next;
  for (const auto& r : changed.resources) next.emplace(r.key, r);
  const auto diff = store.diff_to(next, 7);
  REQUIRE(diff.size() == 3);
  CHECK((diff[0].type == UpdateType::kDelete && diff[0].key.name == "p1"));
  CHECK((diff[1].type == UpdateType::kModify && diff[1].key.name == "p2"));
  CHECK((diff[2].type == UpdateType::kAdd && diff[2].key.name == "p3"));
  for (const auto& u : diff) store.apply(u);
  CHECK(store.diff_to(next, 8).empty());
}
