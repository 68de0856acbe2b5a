#include "rampart/engine/ip.h"

#include <arpa/inet.h>

#include <charconv>
#include <vector>

namespace rampart {

Result<IpAddress> IpAddress::parse(std::string_view text) {
  const std::string copy(text);
  IpAddress ip;
  if (copy.find(':') == std::string::npos) {
    ip.family = 4;
    if (inet_pton(AF_INET, copy.c_str(), ip.bytes.data()) == 1) return ip;
  } else {
    ip.family = 6;
    if (inet_pton(AF_INET6, copy.c_str(), ip.bytes.data()) == 1) return ip;
  }
  return fail(ErrorCode::kInvalidArgument, "not an IP address: '" + copy + "'");
}

IpAddress IpAddress::v4(std::uint32_t host_order) {
  IpAddress ip;
  ip.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
  ip.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
  ip.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
  ip.bytes[3] = static_cast<std::uint8_t>(host_order);
  return ip;
}

std::uint32_t IpAddress::v4_value() const {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

namespace {
void mask(IpAddress& ip, int prefix) {
  for (int i = 0; i < 16; ++i) {
    const int keep = std::max(0, std::min(8, prefix - i * 8));
    ip.bytes[static_cast<size_t>(i)] &= static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
}
}  // namespace

Result<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return fail(ErrorCode::kInvalidArgument, "not a CIDR: '" + std::string(text) + "'");
  Cidr cidr{.address = *ip, .prefix = ip->bits()};
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || prefix < 0 ||
        prefix > ip->bits())
      return fail(ErrorCode::kInvalidArgument, "not a CIDR: '" + std::string(text) + "' (bad prefix length)");
    cidr.prefix = prefix;
  }
  mask(cidr.address, cidr.prefix);
  return cidr;
}

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.family != address.family) return false;
  IpAddress masked = ip;
  mask(masked, prefix);
  return masked == address;
}

bool Cidr::contains(const Cidr& other) const { return other.prefix >= prefix && contains(other.address); }

std::string Cidr::str() const { return address.str() + "/" + std::to_string(prefix); }

bool never_a_pod_address(const Cidr& cidr) {
  static const std::vector<Cidr> kNever = [] {
    std::vector<Cidr> v;
    for (const char* t : {"127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"}) v.push_back(*Cidr::parse(t));
    return v;
  }();
  for (const auto& n : kNever)
    if (n.address.family == cidr.address.family && n.contains(cidr)) return true;
  return false;
}

}  // namespace rampart
