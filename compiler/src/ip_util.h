// Address and value arithmetic for interval sets (internal).
#pragma once

#include <optional>

#include "rampart/compiler/ir.h"

namespace rampart::compiler::ip_util {

[[nodiscard]] IpAddress last_address(const Cidr& cidr);
// The next value (address + 1, number + 1); nullopt at the top of the space.
[[nodiscard]] std::optional<Value> next(const Value& v);
// a <= b within one kind.
[[nodiscard]] bool less(const Value& a, const Value& b);
// true when `start` <= end + 1 (ranges ending at `end` and starting at `start` touch or overlap).
[[nodiscard]] bool adjacent_or_overlapping(const Value& end, const Value& start);
// Prefix length when [lo, hi] is exactly one CIDR, else -1.
[[nodiscard]] int cidr_prefix(const IpAddress& lo, const IpAddress& hi);

}  // namespace rampart::compiler::ip_util
