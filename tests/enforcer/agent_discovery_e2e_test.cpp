// Review H3 #4: a pod the agent knows only from the datastore (running
// before the install, or its CNI registration lost) is policed on the host
// interface the kernel shows for it — the route to its address (vcn-native),
// its bridge port through the neighbour and forwarding entries (overlay) —
// and stays fail-closed, with a log line and a gauge, when there is none.
// Both modes on the shared topology (real CNI chains, the real agent); the
// registrations are lost by stopping the agent and removing its file.
// And InterfaceDiscovery alone against interfaces made in a test namespace.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "netns.h"
#include "rampart/enforcer/interface_discovery.h"
#include "topology.h"

using namespace rampart;
using namespace rampart::enforcer;
using namespace rampart::testing;
using namespace std::chrono_literals;

namespace {

const char* const kServerPolicy = R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: server-from-client
  namespace: shop
spec:
  selector: app == 'server'
  types: [Ingress]
  ingress:
    - action: Allow
      protocol: TCP
      source:
        selector: app == 'client'
      destination:
        ports: [8080]
)";

Probe tcp(const Pod& from, const Pod& to, int port = 8080) {
  return Probe{from.netns->name(), to.netns->name(), to.ip, port, Protocol::kTcp, ""};
}

template <typename F>
bool eventually(F done, std::chrono::seconds limit = 30s) {
  for (auto deadline = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(200ms))
    if (done()) return true;
  return false;
}

void run(ClusterMode mode) {
  ClusterOptions options;
  options.mode = mode;
  options.nodes = 1;
  options.tag = mode == ClusterMode::kOverlay ? "do" : "dv";
  const std::string reason = cluster_unavailable_reason(options);
  if (!reason.empty()) {
    WARN("SKIPPED: " << reason);
    return;
  }
  INFO("mode " << to_string(mode));
  Cluster cluster(options);
  cluster.apply_manifest("ns-shop.yaml", namespace_manifest("shop"));
  cluster.apply_manifest("policy.yaml", kServerPolicy);
  for (const char* name : {"server", "client", "other"}) {
    const auto added = cluster.add_pod("shop", name, 0, {{"app", name}});
    INFO(added.log);
    REQUIRE(added.ok);
  }
  const Pod& server = *cluster.pod("shop/server");
  const Pod& client = *cluster.pod("shop/client");
  const Pod& other = *cluster.pod("shop/other");
  // allowed: client → server, server → client, client → other; denied: other → server.
  const std::vector<Probe> probes = {tcp(client, server), tcp(server, client), tcp(client, other), tcp(other, server)};
  const std::vector<bool> expected = {true, true, true, false};
  {
    INFO("registered by the CNI plugin (the baseline)");
    CHECK(probe_all(probes) == expected);
  }

  // The registrations are lost: the agent restarts knowing the pods only
  // from the datastore.
  cluster.stop_agent(0);
  std::filesystem::remove(cluster.nodes()[0].dir / "endpoints.json");
  cluster.start_agent(0);
  REQUIRE(cluster.wait_ready());
  CHECK(cluster.agent_metric(0, "rampart_agent_local_endpoints") == 0);
  const bool discovered = eventually([&] { return cluster.agent_metric(0, "rampart_agent_discovered_endpoints") == 3; });
  // Policed as before: the allowed flows pass, the denied one is dropped.
  std::vector<bool> seen;
  const bool policed = eventually([&] { return (seen = probe_all(probes)) == expected; });
  INFO("agent log:\n" << cluster.agent_log(0));
  CHECK(discovered);
  CHECK(cluster.agent_metric(0, "rampart_agent_undiscovered_pods") == 0);
  CHECK(policed);
  CHECK(seen == expected);

  // A pod the datastore places on this node with an address nothing in the
  // kernel leads to: no answer, said so, nothing guessed.
  const std::string cidr = cluster.nodes()[0].pod_cidr;
  const std::string ghost_ip = cidr.substr(0, cidr.rfind('.')) + ".250";
  cluster.apply_manifest("ghost.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: ghost, namespace: shop, labels: "
                                       "{app: client}}\nspec: {nodeName: " + cluster.nodes()[0].name +
                                       "}\nstatus: {podIP: " + ghost_ip + "}\n");
  CHECK(eventually([&] { return cluster.agent_metric(0, "rampart_agent_undiscovered_pods") == 1; }));
  const std::string log = cluster.agent_log(0);
  CHECK(log.find("no host interface found") != std::string::npos);
  CHECK(log.find("shop/ghost") != std::string::npos);
  CHECK(cluster.agent_metric(0, "rampart_agent_discovered_endpoints") == 3);
  CHECK(probe_all(probes) == expected);
}

}  // namespace

TEST_CASE("agent: (review H3 #4) pods without a registration are policed on the interface the kernel shows, vcn-native",
          "[e2e]") {
  run(ClusterMode::kVcnNative);
}

TEST_CASE("agent: (review H3 #4) pods without a registration are policed on the interface the kernel shows, overlay",
          "[e2e]") {
  run(ClusterMode::kOverlay);
}

TEST_CASE("InterfaceDiscovery: a host route's veth is an answer; no route, another kind of interface, two "
          "interfaces are not", "[e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace)");
    return;
  }
  Netns node("disc");
  Netns pod("disc-pod");
  REQUIRE(node.run("ip link add vethpod1 type veth peer name eth0 netns " + pod.name()) == 0);
  REQUIRE(node.run("ip link set vethpod1 up") == 0);
  REQUIRE(node.run("ip route add 10.9.0.5/32 dev vethpod1") == 0);
  REQUIRE(node.run("ip -6 route add fd00:9::5/128 dev vethpod1") == 0);
  REQUIRE(node.run("ip link add br9 type bridge") == 0);
  REQUIRE(node.run("ip link set br9 up") == 0);
  REQUIRE(node.run("ip route add 10.9.0.6/32 dev br9") == 0);
  REQUIRE(node.run("ip link add vethpod2 type veth peer name eth1 netns " + pod.name()) == 0);
  REQUIRE(node.run("ip link set vethpod2 up") == 0);
  REQUIRE(node.run("ip route add 10.9.0.7/32 dev vethpod2") == 0);
  REQUIRE(node.run("ip route add 10.9.0.0/24 dev vethpod2") == 0);  // a wider route is no host route

  const auto ip = [](const char* text) { return *IpAddress::parse(text); };
  const InterfaceDiscovery discovery(compiler::Mode::kVcnNative, "cni0", node.name());
  auto found = discovery.find({PodAddresses{"a/dual", {ip("10.9.0.5"), ip("fd00:9::5")}},
                               PodAddresses{"a/dummy", {ip("10.9.0.6")}},
                               PodAddresses{"a/split", {ip("10.9.0.5"), ip("10.9.0.7")}},
                               PodAddresses{"a/none", {ip("10.9.0.8")}}});
  REQUIRE(found);
  CHECK(found->at("a/dual").interface == "vethpod1");
  CHECK(found->at("a/dummy").interface.empty());
  CHECK(found->at("a/dummy").evidence.find("no veth") != std::string::npos);
  CHECK(found->at("a/split").interface.empty());
  CHECK(found->at("a/split").evidence.find("different interfaces") != std::string::npos);
  CHECK(found->at("a/none").interface.empty());
  CHECK(found->at("a/none").evidence.find("no host route") != std::string::npos);

  // overlay without its bridge: no answer, and why.
  const InterfaceDiscovery overlay(compiler::Mode::kOverlay, "cni0", node.name());
  auto no_bridge = overlay.find({PodAddresses{"a/dual", {ip("10.9.0.5")}}});
  REQUIRE(no_bridge);
  CHECK(no_bridge->at("a/dual").interface.empty());
  CHECK(no_bridge->at("a/dual").evidence.find("no bridge cni0") != std::string::npos);
}
