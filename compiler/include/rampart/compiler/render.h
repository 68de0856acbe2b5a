// IR → nft text. Deterministic. A Ruleset renders the way `nft list table`
// prints it (same keywords, order, indentation and symbolic priorities), so
// the kernel's listing can be compared with it; a Transaction renders as an
// `nft -f` script that applies it atomically.
#pragma once

#include <string>

#include "rampart/compiler/ir.h"
#include "rampart/compiler/transaction.h"

namespace rampart::compiler {

struct RenderOptions {
  bool elements = true;  // false: like `nft -t` (terse), sets without elements
};

[[nodiscard]] std::string render(const Ruleset& ruleset, const RenderOptions& options = {});
[[nodiscard]] std::string render(const Table& table, const RenderOptions& options = {});
[[nodiscard]] std::string render(const Transaction& tx);

// Pieces, for messages and tests.
[[nodiscard]] std::string render_rule(const Rule& rule);
[[nodiscard]] std::string render_element(const Set& set, const Element& element);
[[nodiscard]] std::string render_set_type(const Set& set);

}  // namespace rampart::compiler
