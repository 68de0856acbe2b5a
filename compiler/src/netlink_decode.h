// Read-back's decoders shared by its two files (internal): the kernel's
// values and verdicts, and one rule's expressions → IR, checked by encoding
// the result back (netlink_decode.cpp). Dumps, sets, elements, chains and
// tables are netlink_readback.cpp.
#pragma once

#include <cstdio>  // before libnftnl, whose headers use FILE
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"

namespace rampart::compiler::netlink {

// Owners of the libnftnl objects read-back allocates.
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
inline void free_table(nftnl_table* t) { nftnl_table_free(t); }
inline void free_chain(nftnl_chain* c) { nftnl_chain_free(c); }
inline void free_rule(nftnl_rule* r) { nftnl_rule_free(r); }
inline void free_set(nftnl_set* s) { nftnl_set_free(s); }
using TablePtr = std::unique_ptr<nftnl_table, Deleter<nftnl_table, free_table>>;
using ChainPtr = std::unique_ptr<nftnl_chain, Deleter<nftnl_chain, free_chain>>;
using RulePtr = std::unique_ptr<nftnl_rule, Deleter<nftnl_rule, free_rule>>;
using SetPtr = std::unique_ptr<nftnl_set, Deleter<nftnl_set, free_set>>;

// A key or data register of `type` as the kernel holds it (network order).
[[nodiscard]] Value value_of(KeyType type, const std::uint8_t* p, std::size_t len);
// A netfilter verdict code (NF_ACCEPT, NFT_JUMP, …) with its chain.
[[nodiscard]] Verdict verdict_of(std::int32_t code, const char* chain);
// One rule's expressions → IR. Accepted only when the IR encodes back to
// exactly the kernel's expressions; else an error saying why (read_tables
// reports it as not understood, naming the chain and rule).
[[nodiscard]] Result<Rule> decode_rule(Family family, const nftnl_rule* r);

}  // namespace rampart::compiler::netlink
