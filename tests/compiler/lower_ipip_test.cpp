// IP-in-IP from a pod is dropped before policy, in both modes
// (calico-semantics §4.3 and §6.2 item 8: Felix's default
// AllowIPIPPacketsFromWorkloads=false); IP-in-IP to a pod stays policy.
#include <catch2/catch.hpp>

#include "flow.h"
#include "model_builder.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/tracer.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;

TEST_CASE("IPIP from a pod is dropped before policy, to the node and to other pods, in both modes", "[compiler][lower][ipip]") {
  engine::Model m;
  add_default_tier(m);
  add_pod(m, "ns", "a", {{"app", "a"}}, {"10.244.0.2", "fd00::2"});
  add_pod(m, "ns", "b", {{"app", "b"}}, {"10.244.0.3", "fd00::3"});
  add_pod(m, "ns", "remote", {{"app", "r"}}, {"10.244.1.2", "fd00:1::2"}, "node-2");
  // no policy: every pod allows everything (the namespace profile)
  const auto eps = node_endpoints(m, "node-1");
  REQUIRE(eps.size() == 2);
  const std::size_t a = 0, b = 1, remote = 2;
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    auto rs = lower(m, eps, NodeConfig{.mode = mode});
    REQUIRE(rs);
    const auto accepted = [&](const Packet& p) { return traced_accept(*rs, p); };
    for (int family : {4, 6}) {
      INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native") << " v" << family);
      CHECK_FALSE(accepted(flow_packet(m, eps, mode, eps[a].index, eps[b].index, 4, 0, family)));  // to another pod
      CHECK_FALSE(accepted(flow_packet(m, eps, mode, eps[b].index, eps[a].index, 4, 0, family)));
      CHECK_FALSE(accepted(flow_packet(m, eps, mode, eps[a].index, remote, 4, 0, family)));  // to another node
      Packet to_node = flow_packet(m, eps, mode, eps[a].index, eps[a].index, 4, 0, family);
      to_node.hook = Hook::kInput;
      to_node.daddr = ip(family == 4 ? "10.0.0.5" : "fd10::5");
      to_node.oif.clear();
      to_node.out_port.clear();
      CHECK_FALSE(accepted(to_node));
      // the other protocols without ports still pass, and IPIP to a pod is its ingress policy's
      CHECK(accepted(flow_packet(m, eps, mode, eps[a].index, eps[b].index, 47, 0, family)));
      CHECK(accepted(flow_packet(m, eps, mode, remote, eps[b].index, 4, 0, family)));
      Packet from_node = to_node;  // the node's own IPIP (hook input from elsewhere): not ours
      from_node.iif = mode == Mode::kOverlay ? "flannel.1" : "eth0";
      from_node.in_port.clear();
      from_node.saddr = ip(family == 4 ? "10.0.0.9" : "fd10::9");
      CHECK(accepted(from_node));
    }
  }
}
