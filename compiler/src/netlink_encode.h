// IR → libnftnl objects (internal), encoded as nft 1.0.6 encodes the text
// render() prints: nft's implicit dependencies, register numbers, payload
// merging, interval elements and userdata. Used by the batch
// (netlink_batch.cpp) to write and by read-back (netlink_readback.cpp) to
// check that what it decoded encodes to exactly what the kernel holds.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "rampart/compiler/ir.h"

struct nftnl_rule;
struct nftnl_set;

namespace rampart::compiler::netlink {

using Bytes = std::vector<std::uint8_t>;

// One table from IR enums to nftables' numbers, read both ways.
template <typename From, typename To, std::size_t N>
[[nodiscard]] constexpr std::optional<To> forward(const std::pair<From, To> (&table)[N], From from) {
  for (const auto& [f, t] : table)
    if (f == from) return t;
  return std::nullopt;
}
template <typename From, typename To, std::size_t N>
[[nodiscard]] constexpr std::optional<From> backward(const std::pair<From, To> (&table)[N], To to) {
  for (const auto& [f, t] : table)
    if (t == to) return f;
  return std::nullopt;
}

// What nft knows of a KeyType: its length in a register, its datatype id
// (datatype.h; combined for concatenations) and byteorder (1 host, 2 big
// endian) for set userdata.
struct KeyTypeInfo {
  std::uint32_t length = 4;
  std::uint32_t id = 0;
  std::uint32_t byteorder = 2;
  friend bool operator==(const KeyTypeInfo&, const KeyTypeInfo&) = default;
};

[[nodiscard]] std::uint32_t nf_family(Family family);
[[nodiscard]] std::optional<Family> family_of(std::uint32_t nfproto);
[[nodiscard]] std::uint32_t hook_number(Hook hook);
[[nodiscard]] std::optional<Hook> hook_of(std::uint32_t number);
[[nodiscard]] KeyTypeInfo key_type_info(KeyType type);
[[nodiscard]] std::optional<KeyType> key_type_of_id(std::uint32_t id);

[[nodiscard]] constexpr std::uint32_t round4(std::uint32_t n) { return (n + 3) / 4 * 4; }
[[nodiscard]] Bytes value_bytes(KeyType type, const Value& value);
[[nodiscard]] std::uint32_t verdict_code(const Verdict& verdict);

// A rule's expressions, appended to `r` (table, chain, family set by the caller).
void encode_rule(nftnl_rule* r, Family family, const Rule& rule);
// A set's declaration: flags, key type and length, id, userdata.
void encode_set_declaration(nftnl_set* s, const Set& set, std::uint32_t id);

// One kernel element: key bytes, flags, verdict, "open interval" userdata.
struct KernelElement {
  Bytes key;
  std::uint32_t flags = 0;
  Verdict verdict;
  bool open_end = false;
  bool map = false;
  [[nodiscard]] std::size_t estimate() const { return 64 + key.size() + verdict.chain.size(); }
};

// IR elements → kernel elements, nft's interval encoding on this kernel: a
// start element, then the first value after the range flagged INTERVAL_END
// (none when the range runs to the top; the start then carries nft's "open"
// flag); on creation nft also sends an END element at zero when the set does
// not start there (`leading_zero`).
[[nodiscard]] std::vector<KernelElement> kernel_elements(const Set& set, const std::vector<Element>& elements,
                                                         bool leading_zero);
void add_kernel_element(nftnl_set* s, const KernelElement& k);

}  // namespace rampart::compiler::netlink
