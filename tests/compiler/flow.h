// Builds tracer packets for a flow between two model endpoints as the node
// would see it, and asks the tracer for a packet's verdict (tests).
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "rampart/compiler/lower.h"
#include "rampart/compiler/tracer.h"

namespace rampart::testing {

struct Where {
  bool local = false;
  std::string interface;  // host-side veth when local
};

inline Where where(const std::vector<compiler::NodeEndpoint>& eps, std::size_t index) {
  for (const auto& e : eps)
    if (e.index == index) return Where{true, e.interface};
  return Where{};
}

inline compiler::Packet flow_packet(const engine::Model& m, const std::vector<compiler::NodeEndpoint>& eps,
                                    compiler::Mode mode, std::size_t src, std::size_t dst, std::uint8_t proto,
                                    std::uint16_t dport, int family = 4) {
  compiler::Packet p;
  const auto pick = [&](std::size_t i) {
    for (const auto& a : m.endpoints[i].ips)
      if (a.family == family) return a;
    return m.endpoints[i].ips.front();
  };
  p.saddr = pick(src);
  p.daddr = pick(dst);
  p.l4proto = proto;
  p.sport = 40000;
  p.dport = dport;
  if (proto == 1 || proto == 58) p.icmp_type = family == 4 ? 8 : 128;
  const Where s = where(eps, src), d = where(eps, dst);
  if (mode == compiler::Mode::kVcnNative) {
    p.iif = s.local ? s.interface : "eth0";
    p.oif = d.local ? d.interface : "eth0";
  } else {
    p.iif = s.local ? "cni0" : "flannel.1";
    p.oif = d.local ? "cni0" : "flannel.1";
    if (s.local) p.in_port = s.interface;
    if (d.local) p.out_port = d.interface;
  }
  return p;
}

// The tracer's verdict for `p`; its walk through the chains is attached to
// the caller's next assertion (UNSCOPED_INFO), so a failing CHECK shows it.
inline bool traced_accept(const compiler::Ruleset& rs, const compiler::Packet& p) {
  auto t = compiler::trace(rs, p);
  REQUIRE(t);
  UNSCOPED_INFO(t->str());
  return t->accepted;
}

}  // namespace rampart::testing
