// Addresses as integers, shared by the encoding (CIDR intervals) and the
// witness code (pinning and decoding addresses). Internal to rampart_verify.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "rampart/engine/ip.h"

namespace rampart::verify::detail {

__extension__ typedef unsigned __int128 U128;

inline std::string u128_str(U128 v) {
  if (v == 0) return "0";
  std::string out;
  while (v > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

inline U128 parse_u128(const std::string& text) {
  U128 v = 0;
  for (char c : text)
    if (c >= '0' && c <= '9') v = v * 10 + static_cast<unsigned>(c - '0');
  return v;
}

inline U128 address_value(const IpAddress& ip) {
  if (ip.family == 4) return ip.v4_value();
  U128 v = 0;
  for (auto b : ip.bytes) v = (v << 8) | b;
  return v;
}

inline IpAddress address_of(int family, U128 value) {
  if (family == 4) return IpAddress::v4(static_cast<std::uint32_t>(value));
  IpAddress ip;
  ip.family = 6;
  for (int i = 15; i >= 0; --i) {
    ip.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value & 0xff);
    value >>= 8;
  }
  return ip;
}

}  // namespace rampart::verify::detail
