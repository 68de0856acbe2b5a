// Lowering a model produced by the real loader + normaliser (not a hand-built
// one): Kubernetes and Calico YAML in, tracer verdicts out.
#include <catch2/catch.hpp>

#include "flow.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/tracer.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"

using namespace rampart;
using namespace rampart::compiler;

namespace {
constexpr const char* kYaml = R"(apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: node-1, containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.244.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {nodeName: node-1, containers: [{name: c, image: x, ports: [{name: pg, containerPort: 5432}]}]}
status: {podIP: 10.244.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: intruder, namespace: other, labels: {app: web}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.244.0.4}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{protocol: TCP, port: pg}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: no-udp-out}
spec:
  order: 1
  selector: app == 'web'
  types: [Egress]
  egress:
  - action: Deny
    protocol: UDP
  - action: Allow
)";
}  // namespace

TEST_CASE("a loaded and normalised model lowers and agrees with the evaluator", "[compiler][lower]") {
  const auto loaded = engine::load_text(kYaml, "shop.yaml");
  REQUIRE_FALSE(loaded.has_errors());
  const auto& m = loaded.model;
  const auto eps = node_endpoints(m, "node-1");
  REQUIRE(eps.size() == 3);
  const engine::Evaluator ev(m);
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    auto rs = lower(m, eps, NodeConfig{.mode = mode});
    REQUIRE(rs);
    int allowed = 0, total = 0;
    for (const auto& s : eps)
      for (const auto& d : eps) {
        if (s.index == d.index) continue;
        for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}})
          for (std::uint16_t port : {std::uint16_t{5432}, std::uint16_t{8080}}) {
            engine::Flow f{.src = engine::FlowEnd::of(m.endpoints[s.index]), .dst = engine::FlowEnd::of(m.endpoints[d.index]),
                           .protocol = proto, .dst_port = port, .src_port = 40000};
            auto t = trace(*rs, testing::flow_packet(m, eps, mode, s.index, d.index, proto, port));
            REQUIRE(t);
            INFO(m.endpoints[s.index].name << " -> " << m.endpoints[d.index].name << " " << int(proto) << "/" << port << "\n"
                                           << t->str());
            CHECK(t->accepted == ev.evaluate(f).allowed);
            allowed += t->accepted;
            ++total;
          }
      }
    CHECK(allowed > 0);
    CHECK(allowed < total);
  }
}
