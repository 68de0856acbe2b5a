// A packet tracer over the IR: walks one packet through the base chains of a
// hook (by priority, across tables), following jumps, gotos, returns, sets and
// verdict maps with nftables' semantics, and reports the verdict and the path.
// It is the kernel-free half of the differential tests: the evaluator, this
// tracer and real packets must agree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"

namespace rampart::compiler {

struct Packet {
  Hook hook = Hook::kForward;
  IpAddress saddr;  // family taken from here
  IpAddress daddr;
  std::string iif;  // the L3 view (in overlay mode: the bridge)
  std::string oif;
  // Bridged frames: the bridge ports; when in_port is set the bridge-family
  // prerouting chains run first with iif = in_port.
  std::string in_port;
  // Bridged frames leaving a bridge port: when set, the bridge-family
  // postrouting chains run last with oif = out_port.
  std::string out_port;
  std::uint8_t l4proto = 6;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  std::uint8_t hop_limit = 64;  // IPv6 (Linux's default); neighbour discovery is sent with 255
  std::uint32_t ct_state = ct_state::kNew;
  std::uint32_t mark = 0;
};

struct TraceStep {
  std::string table;  // "inet rampart"
  std::string chain;
  int rule = -1;      // index in the chain; -1: the chain's policy / end
  std::string text;   // the rule as nft text
};

struct Trace {
  bool accepted = false;
  std::vector<TraceStep> path;   // rules that matched, in order
  std::vector<std::string> logs; // log prefixes emitted
  std::uint32_t mark = 0;        // the mark at the end

  [[nodiscard]] std::string str() const;  // one step per line, then the verdict
};

// Errors: a loop or a jump to a missing chain/set (the kernel would refuse it).
[[nodiscard]] Result<Trace> trace(const Ruleset& ruleset, const Packet& packet);

}  // namespace rampart::compiler
