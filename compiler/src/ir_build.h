// Small constructors for IR values, shared by the lowering files
// (lower.cpp, lower_rules.cpp, lower_base.cpp): one spelling of a match or a
// verdict everywhere a rule is built.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rampart/compiler/ir.h"

namespace rampart::compiler::detail {

inline Match eq(Key k, Value v) { return Match{.keys = {k}, .op = Match::Op::kEq, .values = {std::move(v)}}; }
inline Match ne(Key k, Value v) { return Match{.keys = {k}, .op = Match::Op::kNe, .values = {std::move(v)}}; }
inline Match in_set(std::vector<Key> k, std::string set, bool negate = false) {
  return Match{.keys = std::move(k), .op = negate ? Match::Op::kNotInSet : Match::Op::kInSet, .set = std::move(set)};
}
inline Match bits_set(Key k, std::uint32_t m) { return Match{.keys = {k}, .op = Match::Op::kBitsSet, .values = {Value{std::uint64_t{m}}}}; }
inline Match bits_clear(Key k, std::uint32_t m) {
  return Match{.keys = {k}, .op = Match::Op::kBitsClear, .values = {Value{std::uint64_t{m}}}};
}
inline Verdict jump(std::string c) { return Verdict{.kind = Verdict::Kind::kJump, .chain = std::move(c)}; }
inline Verdict go(std::string c) { return Verdict{.kind = Verdict::Kind::kGoto, .chain = std::move(c)}; }
inline Verdict plain(Verdict::Kind k) { return Verdict{.kind = k}; }

}  // namespace rampart::compiler::detail
