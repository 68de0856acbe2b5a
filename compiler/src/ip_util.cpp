#include "ip_util.h"

namespace rampart::compiler::ip_util {

IpAddress last_address(const Cidr& cidr) {
  IpAddress ip = cidr.address;
  const int bits = ip.bits();
  for (int i = cidr.prefix; i < bits; ++i) ip.bytes[static_cast<size_t>(i / 8)] |= static_cast<std::uint8_t>(0x80 >> (i % 8));
  return ip;
}

std::optional<Value> next(const Value& v) {
  if (const auto* n = std::get_if<std::uint64_t>(&v)) return Value{*n + 1};
  if (const auto* ip = std::get_if<IpAddress>(&v)) {
    IpAddress r = *ip;
    for (int i = r.bits() / 8 - 1; i >= 0; --i) {
      auto& b = r.bytes[static_cast<size_t>(i)];
      if (b != 0xff) {
        ++b;
        return Value{r};
      }
      b = 0;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

bool less(const Value& a, const Value& b) { return a < b; }

bool adjacent_or_overlapping(const Value& end, const Value& start) {
  if (!less(end, start)) return true;
  auto n = next(end);
  return n && !less(*n, start);
}

int cidr_prefix(const IpAddress& lo, const IpAddress& hi) {
  const int bits = lo.bits();
  for (int prefix = 0; prefix <= bits; ++prefix) {
    Cidr c{.address = lo, .prefix = prefix};
    // lo must be the network address and hi the last one
    IpAddress masked = lo;
    for (int i = prefix; i < bits; ++i) masked.bytes[static_cast<size_t>(i / 8)] &= static_cast<std::uint8_t>(~(0x80 >> (i % 8)));
    if (masked != lo) continue;
    if (last_address(c) == hi) return prefix;
  }
  return -1;
}

}  // namespace rampart::compiler::ip_util
