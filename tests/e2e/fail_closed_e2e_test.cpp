// Fail-closed at pod start, both modes, real agent and CNI chain:
//  - a pod whose ADD succeeded has its policy in place before its first
//    packet (probes start the moment ADD returns, before its address is even
//    published to the datastore);
//  - a pod added while the node's agent is down gets an ADD error and none of
//    its traffic through (the kernel's fail-closed rules the stopped agent
//    left), while pods that were running keep their allowed flows; once the
//    agent is back, the runtime's retry (DEL, ADD) succeeds and traffic flows.
#include <catch2/catch.hpp>

#include "matrix.h"
#include "topology.h"

using namespace rampart;
using namespace rampart::testing;
using namespace rampart::e2e;

namespace {

const char* const kFreshEgress = R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: fresh-egress
  namespace: shop
spec:
  selector: app == 'fresh'
  types: [Egress]
  egress:
    - action: Allow
      protocol: TCP
      destination:
        selector: app == 'server'
        ports: [8080]
)";

// Every flow from and to `pod` against the server pod, the node and the outside.
std::vector<MatrixFlow> flows_of(Cluster& cluster, const Pod& pod, const Pod& server) {
  std::vector<MatrixFlow> flows;
  const auto& node = cluster.nodes()[0];
  auto add = [&](const std::string& src, const std::string& dst, const std::string& client_ns,
                 const std::string& server_ns, const std::string& address, int port, Protocol protocol) {
    flows.push_back(MatrixFlow{src, dst,
                               src + " -> " + dst + (protocol == Protocol::kTcp ? " tcp/" : " udp/") +
                                   std::to_string(port),
                               Probe{client_ns, server_ns, address, port, protocol, ""}});
  };
  for (int port : {8080, 9090}) {
    add(pod.key(), server.key(), pod.netns->name(), server.netns->name(), server.ip, port, Protocol::kTcp);
    add(pod.key(), node.address, pod.netns->name(), node.netns->name(), node.address, port, Protocol::kTcp);
    add(pod.key(), cluster.outside_address(), pod.netns->name(), cluster.outside().name(), cluster.outside_address(),
        port, Protocol::kTcp);
    add(server.key(), pod.key(), server.netns->name(), pod.netns->name(), pod.ip, port, Protocol::kTcp);
    add(cluster.outside_address(), pod.key(), cluster.outside().name(), pod.netns->name(), pod.ip, port,
        Protocol::kTcp);
  }
  add(pod.key(), server.key(), pod.netns->name(), server.netns->name(), server.ip, 5353, Protocol::kUdp);
  add(server.key(), pod.key(), server.netns->name(), pod.netns->name(), pod.ip, 5353, Protocol::kUdp);
  return flows;
}

void run(ClusterMode mode) {
  ClusterOptions options;
  options.mode = mode;
  options.nodes = 1;
  options.tag = mode == ClusterMode::kOverlay ? "fo" : "fv";
  options.agent_timeout_ms = 5000;
  const std::string reason = cluster_unavailable_reason(options);
  if (!reason.empty()) {
    WARN("SKIPPED: " << reason);
    return;
  }
  INFO("mode " << to_string(mode));
  Cluster cluster(options);
  cluster.apply_manifest("ns-shop.yaml", namespace_manifest("shop"));
  cluster.apply_manifest("fresh-egress.yaml", kFreshEgress);
  for (const char* name : {"server", "client"}) {
    const auto added = cluster.add_pod("shop", name, 0, {{"app", name}});
    INFO(added.log);
    REQUIRE(added.ok);
  }
  Pod& server = *cluster.pod("shop/server");
  Pod& client = *cluster.pod("shop/client");

  SECTION("policy is in place before the first packet") {
    const auto added = cluster.add_pod("shop", "fresh", 0, {{"app", "fresh"}}, /*publish=*/false);
    INFO(added.log);
    REQUIRE(added.ok);
    auto flows = flows_of(cluster, *added.pod, server);
    observe(flows);  // at once: nothing waits for the datastore or the agent
    REQUIRE(predict(cluster, flows).empty());
    std::size_t allowed = 0;
    for (const auto& f : flows) allowed += f.predicted;
    REQUIRE(allowed > 0);                // the probes can succeed…
    REQUIRE(allowed < flows.size());     // …and the policy denies some
    INFO("differences:\n" << differences(flows) << "--- agent\n" << cluster.agent_log(0));
    CHECK(differences(flows).empty());
  }

  SECTION("a pod added while the agent is down gets no traffic through") {
    cluster.stop_agent(0);  // SIGTERM: the rules stay in the kernel
    const auto late = cluster.add_pod("shop", "late", 0, {{"app", "late"}});
    INFO(late.log);
    CHECK_FALSE(late.ok);
    REQUIRE(late.pod);
    REQUIRE(!late.pod->ip.empty());  // the main plugin wired it; rampart-cni refused
    auto flows = flows_of(cluster, *late.pod, server);
    observe(flows);
    for (const auto& f : flows) {
      INFO(f.what);
      CHECK_FALSE(f.observed);
    }
    // Pods that were running keep their allowed flows while no agent runs.
    const auto kept = probe_all({Probe{client.netns->name(), server.netns->name(), server.ip, 8080, Protocol::kTcp, ""},
                                 Probe{client.netns->name(), server.netns->name(), server.ip, 5353, Protocol::kUdp, ""}});
    CHECK(kept[0]);
    CHECK(kept[1]);

    // The agent comes back; the runtime cleans up and retries the sandbox.
    cluster.start_agent(0);
    REQUIRE(cluster.wait_ready());
    REQUIRE(cluster.delete_pod("shop/late"));
    const auto retried = cluster.add_pod("shop", "late", 0, {{"app", "late"}});
    INFO(retried.log);
    REQUIRE(retried.ok);
    auto after = flows_of(cluster, *retried.pod, server);
    REQUIRE(predict(cluster, after).empty());
    const std::string diff = observe_until_equal(after, 3, nullptr);
    INFO("after the retry:\n" << diff);
    CHECK(diff.empty());
    std::size_t allowed = 0;
    for (const auto& f : after) allowed += f.observed;
    CHECK(allowed > 0);  // the same probes do get through now
  }
}

}  // namespace

TEST_CASE("fail-closed at pod start, vcn-native", "[e2e]") { run(ClusterMode::kVcnNative); }

TEST_CASE("fail-closed at pod start, overlay", "[e2e]") { run(ClusterMode::kOverlay); }
