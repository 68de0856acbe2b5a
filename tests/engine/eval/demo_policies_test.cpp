// The bundled demo cluster (policies/demo) and baseline library
// (policies/baseline) load without errors, and the demo's intended facts
// hold end to end: loader → normaliser → evaluator and class engine.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "rampart/engine/connlist.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"
#include "rampart/engine/reachability.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

const std::string kPolicies = std::string(RAMPART_SOURCE_DIR) + "/policies";

LoadResult load_clean(const std::string& dir) {
  auto loaded = load({dir});
  for (const auto& d : loaded.diagnostics)
    if (d.severity == Severity::kError) FAIL_CHECK(d.where.str() << ": " << d.message);
  REQUIRE_FALSE(loaded.has_errors());
  return loaded;
}

const Endpoint& workload(const Model& m, const std::string& ns, const std::string& name) {
  for (const auto& e : m.endpoints)
    if (e.ns == ns && (e.owner.name == name || e.name == name)) return e;
  FAIL("no workload " << ns << "/" << name);
  return m.endpoints.front();
}

struct Demo {
  LoadResult loaded = load_clean(kPolicies + "/demo");
  const Model& m = loaded.model;
  Evaluator evaluator{m};
  Reachability reach = Reachability::compute(m);

  bool allowed(const FlowEnd& src, const FlowEnd& dst, std::uint8_t protocol, std::uint16_t port) {
    Flow f;
    f.src = src;
    f.dst = dst;
    f.protocol = protocol;
    f.dst_port = port;
    const bool verdict = evaluator.evaluate(f).allowed;
    auto cls = [&](const FlowEnd& e, bool as_src) -> std::uint32_t {
      if (e.endpoint) return reach.class_of_endpoint(static_cast<std::size_t>(e.endpoint - m.endpoints.data()));
      for (const auto& b : as_src ? reach.source_blocks() : reach.destination_blocks())
        if (b.addresses.contains(e.ip->v4_value())) return b.peer;
      FAIL("no block");
      return 0;
    };
    INFO(describe(evaluator.evaluate(f).egress) << describe(evaluator.evaluate(f).ingress));
    CHECK(reach.allowed(cls(src, true), cls(dst, false)).contains(protocol, port) == verdict);
    return verdict;
  }
  FlowEnd w(const std::string& ns, const std::string& name) { return FlowEnd::of(workload(m, ns, name)); }
  static FlowEnd ext(const std::string& ip) { return FlowEnd::external(*IpAddress::parse(ip)); }
};

}  // namespace

TEST_CASE("the demo cluster says what its README says", "[demo]") {
  Demo d;
  // The storefront path.
  CHECK(d.allowed(Demo::ext("198.51.100.10"), d.w("ingress", "ingress-nginx"), proto::kTcp, 443));
  CHECK(d.allowed(d.w("ingress", "ingress-nginx"), d.w("shop", "frontend"), proto::kTcp, 8080));
  CHECK(d.allowed(d.w("shop", "frontend"), d.w("shop", "cart"), proto::kTcp, 8080));
  CHECK(d.allowed(d.w("shop", "checkout"), d.w("shop", "payments"), proto::kTcp, 8443));
  CHECK_FALSE(d.allowed(d.w("shop", "frontend"), d.w("shop", "payments"), proto::kTcp, 8443));
  // Data: a Deny before the Allow.
  CHECK(d.allowed(d.w("shop", "catalog"), d.w("data", "postgres"), proto::kTcp, 5432));
  CHECK_FALSE(d.allowed(d.w("shop", "cart"), d.w("data", "postgres"), proto::kTcp, 5432));
  CHECK(d.allowed(d.w("shop", "cart"), d.w("data", "redis"), proto::kTcp, 6379));
  // Platform tier: DNS for everyone, metrics scraping on the named port.
  CHECK(d.allowed(d.w("shop", "payments"), d.w("kube-system", "coredns"), proto::kUdp, 53));
  CHECK(d.allowed(d.w("monitoring", "prometheus"), d.w("shop", "cart"), proto::kTcp, 9090));
  CHECK_FALSE(d.allowed(d.w("monitoring", "prometheus"), d.w("shop", "cart"), proto::kTcp, 8080));
  // Security tier: no metadata service; PCI egress only to the provider.
  CHECK_FALSE(d.allowed(d.w("shop", "payments"), Demo::ext("169.254.169.254"), proto::kTcp, 80));
  CHECK_FALSE(d.allowed(d.w("kube-system", "coredns"), Demo::ext("169.254.169.254"), proto::kTcp, 80));
  CHECK(d.allowed(d.w("shop", "payments"), Demo::ext("203.0.113.9"), proto::kTcp, 443));
  CHECK_FALSE(d.allowed(d.w("shop", "payments"), Demo::ext("8.8.8.8"), proto::kTcp, 443));
  // The list has lines, in netpol-analyzer's shape.
  const auto list = build_connlist(d.m, d.reach);
  auto text = format_connlist(list, "txt");
  REQUIRE(text);
  CHECK(text->find("shop/checkout[Deployment] => shop/payments[Deployment] : TCP 8443") != std::string::npos);
}

TEST_CASE("the baseline library loads cleanly", "[demo]") {
  const auto loaded = load_clean(kPolicies + "/baseline");
  CHECK(loaded.model.policies.size() >= 5);
}

// The baseline's exemptions cannot be claimed by a pod's own labels (which
// whoever deploys the pod sets): the node-access source is the global
// network set only, the metadata-service exemption a namespace label.
TEST_CASE("the baseline's exemptions are not pod labels", "[demo]") {
  // One model: the baseline's documents and the pods, normalised together.
  std::string text;
  for (const auto& entry : std::filesystem::directory_iterator(kPolicies + "/baseline"))
    if (entry.path().extension() == ".yaml") {
      std::ifstream in(entry.path());
      text += std::string(std::istreambuf_iterator<char>(in), {}) + "\n---\n";
    }
  const auto both = load_text(text + R"(apiVersion: v1
kind: Namespace
metadata: {name: infra, labels: {oci-metadata-access: allowed}}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: app, labels: {app: db}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.0.20.2}
---
apiVersion: v1
kind: Pod
metadata: {name: sneaky, namespace: app, labels: {role: oke-worker-nodes, oci-metadata-access: allowed}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.0.20.3}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: infra}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.0.30.3}
)", "baseline+pods.yaml");
  REQUIRE_FALSE(both.has_errors());
  const Model& m = both.model;
  const Evaluator ev(m);
  auto tcp = [&](const FlowEnd& src, const FlowEnd& dst, std::uint16_t port) {
    Flow f;
    f.src = src;
    f.dst = dst;
    f.protocol = proto::kTcp;
    f.dst_port = port;
    return f;
  };
  const FlowEnd db = FlowEnd::of(workload(m, "app", "db"));
  const FlowEnd sneaky = FlowEnd::of(workload(m, "app", "sneaky"));
  const FlowEnd agent = FlowEnd::of(workload(m, "infra", "agent"));
  const FlowEnd metadata = FlowEnd::external(*IpAddress::parse("169.254.169.254"));
  // Ingress of db: a pod labelled like the nodes is not the nodes.
  CHECK_FALSE(ev.evaluate_direction(*db.endpoint, Direction::kIngress, tcp(sneaky, db, 5432)).allowed);
  // Egress to the metadata service: the pod label does not exempt, the namespace label does.
  CHECK_FALSE(ev.evaluate_direction(*sneaky.endpoint, Direction::kEgress, tcp(sneaky, metadata, 80)).allowed);
  CHECK(ev.evaluate_direction(*agent.endpoint, Direction::kEgress, tcp(agent, metadata, 80)).allowed);
}
