// Sets of connections (protocol × port) for reachability: which new
// connections one peer may open to another.
//
// A connection is (IP protocol number, coordinate). The coordinate is the
// destination port for TCP/UDP/SCTP (1–65535), type*256+code for ICMP and
// ICMPv6 (0–65535), and the single value 0 for every other protocol. A set
// keeps an interval set per protocol that differs from the set's default for
// "every protocol not listed", so the full and the empty set are both small.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rampart::engine {

// Sorted, disjoint, non-adjacent closed intervals of unsigned values.
class IntervalSet {
 public:
  IntervalSet() = default;
  static IntervalSet range(std::uint32_t lo, std::uint32_t hi);

  [[nodiscard]] bool empty() const { return runs_.empty(); }
  [[nodiscard]] bool contains(std::uint32_t value) const;
  [[nodiscard]] const std::vector<std::pair<std::uint32_t, std::uint32_t>>& runs() const { return runs_; }

  void add(std::uint32_t lo, std::uint32_t hi);
  [[nodiscard]] IntervalSet unite(const IntervalSet& other) const;
  [[nodiscard]] IntervalSet intersect(const IntervalSet& other) const;
  [[nodiscard]] IntervalSet subtract(const IntervalSet& other) const;
  // Complement within [lo, hi].
  [[nodiscard]] IntervalSet complement(std::uint32_t lo, std::uint32_t hi) const;
  [[nodiscard]] bool is_range(std::uint32_t lo, std::uint32_t hi) const;

  friend bool operator==(const IntervalSet&, const IntervalSet&) = default;
  friend auto operator<=>(const IntervalSet&, const IntervalSet&) = default;

 private:
  std::vector<std::pair<std::uint32_t, std::uint32_t>> runs_;
};

// The coordinate domain of a protocol (see the file comment).
struct ProtocolDomain {
  std::uint32_t lo = 0;
  std::uint32_t hi = 0;
};
[[nodiscard]] ProtocolDomain protocol_domain(std::uint8_t protocol);
[[nodiscard]] bool protocol_has_ports(std::uint8_t protocol);
[[nodiscard]] bool protocol_is_icmp(std::uint8_t protocol);

class ConnectionSet {
 public:
  ConnectionSet() = default;  // empty
  static ConnectionSet all();
  static ConnectionSet none() { return {}; }
  // Every coordinate of one protocol.
  static ConnectionSet protocol(std::uint8_t number);
  // Every protocol except one.
  static ConnectionSet all_but_protocol(std::uint8_t number);
  // Coordinates of one protocol (clipped to its domain).
  static ConnectionSet of(std::uint8_t protocol, const IntervalSet& coordinates);

  [[nodiscard]] bool empty() const { return !others_ && by_protocol_.empty(); }
  [[nodiscard]] bool is_all() const { return others_ && by_protocol_.empty(); }
  [[nodiscard]] bool contains(std::uint8_t protocol, std::uint32_t coordinate) const;
  // The coordinates allowed for one protocol.
  [[nodiscard]] IntervalSet coordinates(std::uint8_t protocol) const;
  // Whether protocols not listed explicitly are allowed, and the listed ones.
  [[nodiscard]] bool others() const { return others_; }
  [[nodiscard]] const std::vector<std::pair<std::uint8_t, IntervalSet>>& listed() const { return by_protocol_; }

  [[nodiscard]] ConnectionSet unite(const ConnectionSet& other) const;
  [[nodiscard]] ConnectionSet intersect(const ConnectionSet& other) const;
  [[nodiscard]] ConnectionSet subtract(const ConnectionSet& other) const;
  [[nodiscard]] ConnectionSet complement() const;

  // Restricts the port dimension of TCP/UDP/SCTP to `ports` (other protocols
  // are removed): the effect of a numeric `ports` list.
  [[nodiscard]] ConnectionSet restrict_ports(const IntervalSet& ports) const;

  [[nodiscard]] std::size_t hash() const;
  friend bool operator==(const ConnectionSet&, const ConnectionSet&) = default;

  // netpol-analyzer's text: "All Connections", "No Connections", or
  // comma-joined "<PROTO> <ranges>" groups sorted as strings, e.g.
  // "TCP 80,UDP 53-54". Extension for what Kubernetes cannot express:
  // "ICMP" (every type), "ICMP type 8 code 0", "ICMP type 3", "protocol 47",
  // and "all but TCP 1-79,…" is never produced: every listed protocol is
  // spelled out, and protocols beyond TCP/UDP/SCTP/ICMP/ICMPv6 that are all
  // allowed are summarised as "other protocols".
  [[nodiscard]] std::string str() const;

 private:
  void normalise();
  [[nodiscard]] IntervalSet full_of(std::uint8_t protocol) const;
  template <typename Op>
  [[nodiscard]] ConnectionSet combine(const ConnectionSet& other, bool others, Op op) const;

  bool others_ = false;
  std::vector<std::pair<std::uint8_t, IntervalSet>> by_protocol_;  // sorted by protocol
};

// "80,90-100" (netpol-analyzer's port list).
[[nodiscard]] std::string ports_text(const IntervalSet& ports);
// Protocol name as netpol-analyzer and Calico print it ("TCP", "ICMP", "47").
[[nodiscard]] std::string protocol_text(std::uint8_t protocol);

}  // namespace rampart::engine
