// One new connection, as the decision procedure sees its first packet.
#pragma once

#include <cstdint>
#include <optional>

#include "rampart/engine/ip.h"
#include "rampart/engine/model.h"

namespace rampart::engine {

// One side of a flow: a cluster endpoint (pod or host endpoint), or an
// address outside the cluster's endpoints (then only `ip` is set).
struct FlowEnd {
  const Endpoint* endpoint = nullptr;
  std::optional<IpAddress> ip;  // the endpoint's address when known

  [[nodiscard]] static FlowEnd of(const Endpoint& e, int ip_version = 4);
  [[nodiscard]] static FlowEnd external(const IpAddress& address) { return FlowEnd{nullptr, address}; }
};

struct Flow {
  FlowEnd src;
  FlowEnd dst;
  int ip_version = 4;
  std::uint8_t protocol = proto::kTcp;
  std::uint16_t dst_port = 0;              // TCP / UDP / SCTP
  std::optional<std::uint16_t> src_port;  // unknown: see docs/reachability.md "source ports"
  std::optional<int> icmp_type;           // ICMP / ICMPv6
  std::optional<int> icmp_code;
};

}  // namespace rampart::engine
