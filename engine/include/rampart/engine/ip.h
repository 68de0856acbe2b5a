// IPv4 / IPv6 addresses and CIDRs as plain values.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "rampart/common/error.h"

namespace rampart {

struct IpAddress {
  int family = 4;                       // 4 or 6
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses bytes[0..3]

  static Result<IpAddress> parse(std::string_view text);
  static IpAddress v4(std::uint32_t host_order);
  [[nodiscard]] std::uint32_t v4_value() const;  // host order; IPv4 only
  [[nodiscard]] std::string str() const;
  [[nodiscard]] int bits() const { return family == 4 ? 32 : 128; }
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct Cidr {
  IpAddress address;  // masked to the network address
  int prefix = 0;

  // Accepts "a.b.c.d/n", "x::/n" and a bare address (a /32 or /128). Host
  // bits are cleared (as Calico and Kubernetes do when converting).
  static Result<Cidr> parse(std::string_view text);
  [[nodiscard]] bool contains(const IpAddress& ip) const;
  [[nodiscard]] bool contains(const Cidr& other) const;
  [[nodiscard]] std::string str() const;
  friend auto operator<=>(const Cidr&, const Cidr&) = default;
};

// Whether `cidr` lies inside addresses Kubernetes never gives a pod (loopback,
// link-local: e.g. the instance metadata address 169.254.169.254), so a pod
// whose address the manifests do not say is known to be outside it.
[[nodiscard]] bool never_a_pod_address(const Cidr& cidr);

}  // namespace rampart
