// vcn-native: a pod's IPv6 link with the node. Neighbour discovery, router
// solicitation and MLD from the pod's link-local address (or :: for DAD)
// reach the node; nothing else from such a source gets past anti-spoofing
// (session 9, review H3 §4: NUD probes to fe80::1 were dropped and the
// pod's gateway neighbour went FAILED).
#include <catch2/catch.hpp>

#include "flow.h"
#include "model_builder.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/tracer.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;
using engine::Action;

namespace {

// web and db on node-1; db admits TCP 5432 from web, and so does the node
// (endpoint-to-host accept), so only anti-spoofing stands between a forged
// source and the node or db.
engine::Model pods() {
  engine::Model m;
  add_default_tier(m);
  add_pod(m, "shop", "web", {{"app", "web"}}, {"10.244.0.2", "fd00::2"});
  add_pod(m, "shop", "db", {{"app", "db"}}, {"10.244.0.3", "fd00::3"});
  auto to = peer();
  to.ports = {port(5432)};
  add_policy(m, "shop", "db-in", "app == 'db'", {rule(Action::kAllow, 6, peer("app == 'web'"), to)}, {}, true, false);
  return m;
}

// The host-side interface of a local pod.
std::string interface_of(const engine::Model& m, const std::vector<NodeEndpoint>& eps, const std::string& name) {
  for (const auto& e : eps)
    if (m.endpoints[e.index].name == name) return e.interface;
  return "";
}

// An ICMPv6 packet from web's veth to the node.
Packet to_node(const std::string& web_if, const std::string& source, const std::string& destination,
               std::uint8_t type, std::uint8_t hop_limit) {
  Packet p;
  p.hook = Hook::kInput;
  p.iif = web_if;
  p.saddr = ip(source);
  p.daddr = ip(destination);
  p.l4proto = 58;
  p.icmp_type = type;
  p.hop_limit = hop_limit;
  return p;
}

}  // namespace

TEST_CASE("vcn-native: ND, RS and MLD from a pod's link-local address or :: reach the node", "[compiler][lower][spoof]") {
  const auto m = pods();
  const auto eps = node_endpoints(m, "node-1");
  REQUIRE(eps.size() == 2);
  const std::string web_if = interface_of(m, eps, "web"), db_if = interface_of(m, eps, "db");
  REQUIRE_FALSE(web_if.empty());
  REQUIRE_FALSE(db_if.empty());
  const std::string ll = "fe80::a8c1:abff:fe12:3456";
  for (EndpointToHost to_host : {EndpointToHost::kAccept, EndpointToHost::kDrop}) {
    auto rs = lower(m, eps, NodeConfig{.mode = Mode::kVcnNative, .endpoint_to_host = to_host});
    REQUIRE(rs);
    const auto accepted = [&](const Packet& p) { return traced_accept(*rs, p); };
    INFO("endpoint-to-host " << (to_host == EndpointToHost::kDrop ? "drop" : "accept"));
    CHECK(accepted(to_node(web_if, ll, "fe80::1", 135, 255)));            // NUD probe to the gateway
    CHECK(accepted(to_node(web_if, ll, "ff02::1:ff00:1", 135, 255)));     // address resolution
    CHECK(accepted(to_node(web_if, ll, "fe80::1", 136, 255)));            // the pod's answer
    CHECK(accepted(to_node(web_if, ll, "ff02::2", 133, 255)));            // router solicitation
    CHECK(accepted(to_node(web_if, "::", "ff02::1:ff12:3456", 135, 255)));  // DAD
    CHECK(accepted(to_node(web_if, "::", "ff02::2", 133, 255)));
    for (std::uint8_t mld : {130, 131, 132, 143}) CHECK(accepted(to_node(web_if, ll, "ff02::16", mld, 1)));
    CHECK(accepted(to_node(web_if, "::", "ff02::16", 143, 1)));  // MLD report during DAD
    // ND and RS need hop limit 255, MLD 1 (RFC 4861 7.1.1, RFC 3810 5).
    CHECK_FALSE(accepted(to_node(web_if, ll, "fe80::1", 135, 254)));
    CHECK_FALSE(accepted(to_node(web_if, ll, "ff02::2", 133, 64)));
    CHECK_FALSE(accepted(to_node(web_if, ll, "ff02::16", 143, 255)));
    // An NA or MLD done has no business with ::.
    CHECK_FALSE(accepted(to_node(web_if, "::", "fe80::1", 136, 255)));
    CHECK_FALSE(accepted(to_node(web_if, "::", "ff02::16", 132, 1)));
    // Other ICMPv6 and TCP from the link-local address: dropped, even with
    // endpoint-to-host accept.
    CHECK_FALSE(accepted(to_node(web_if, ll, "fe80::1", 128, 64)));   // echo request
    CHECK_FALSE(accepted(to_node(web_if, ll, "fe80::1", 128, 255)));
    CHECK_FALSE(accepted(to_node(web_if, ll, "fe80::1", 134, 255)));  // a pod is no router
    Packet tcp = to_node(web_if, ll, "fe80::1", 0, 64);
    tcp.l4proto = 6;
    tcp.sport = 40000;
    tcp.dport = 22;
    CHECK_FALSE(accepted(tcp));
    tcp.hop_limit = 255;
    CHECK_FALSE(accepted(tcp));
    // ND from another pod's (global) address is still a spoofed source.
    CHECK_FALSE(accepted(to_node(web_if, "fd00::3", "fe80::1", 135, 255)));
    CHECK(accepted(to_node(web_if, "fd00::2", "fe80::1", 135, 255)));  // web's own
    // Forwarded to db (the kernel forwards no link-local source; the rules
    // do not count on it): neither ND types nor TCP.
    for (const std::string& source : {ll, std::string("::")}) {
      INFO("from " << source);
      Packet nd = to_node(web_if, source, "fd00::3", 135, 255);
      nd.hook = Hook::kForward;
      nd.oif = db_if;
      CHECK_FALSE(accepted(nd));
      nd.icmp_type = 143;
      nd.hop_limit = 1;
      CHECK_FALSE(accepted(nd));
      Packet fwd = tcp;
      fwd.hook = Hook::kForward;
      fwd.saddr = ip(source);
      fwd.daddr = ip("fd00::3");
      fwd.oif = db_if;
      fwd.dport = 5432;
      CHECK_FALSE(accepted(fwd));
      fwd.saddr = ip("fd00::2");  // web's own address: db's policy admits it
      CHECK(accepted(fwd));
    }
  }
}
