// Where nft folds a protocol match into the transport match after it
// (internal): `meta l4proto tcp th dport 80` is written, encoded and listed as
// `tcp dport 80`. render() and the netlink encoder must agree on it.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <variant>

#include "rampart/compiler/ir.h"

namespace rampart::compiler {

// The first `l4proto == tcp|udp|sctp|dccp` match followed by a th sport/dport
// match or map key: its index and protocol number.
inline std::optional<std::pair<size_t, std::uint64_t>> folded_l4proto(const Rule& rule) {
  for (size_t i = 0; i < rule.matches.size(); ++i) {
    const auto& m = rule.matches[i];
    if (m.op != Match::Op::kEq || m.keys != std::vector<Key>{Key::kL4proto}) continue;
    const auto* number = std::get_if<std::uint64_t>(&m.values.front());
    const std::uint64_t p = number ? *number : 0;
    if (p != 6 && p != 17 && p != 132 && p != 136) continue;
    for (size_t j = i + 1; j < rule.matches.size(); ++j)
      for (Key k : rule.matches[j].keys)
        if (k == Key::kThSport || k == Key::kThDport) return std::pair{i, p};
    // `meta l4proto tcp th dport vmap @m` is `tcp dport vmap @m` too
    for (Key k : rule.vmap_keys)
      if (k == Key::kThSport || k == Key::kThDport) return std::pair{i, p};
  }
  return std::nullopt;
}

}  // namespace rampart::compiler
