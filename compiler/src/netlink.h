// The netlink programmer (internal): IR transactions → one nfnetlink batch
// built with libnftnl and sent with libmnl, encoded as nft 1.0.6 encodes the
// same text (dependencies, register numbers, payload merging, interval
// elements, userdata), so `nft list` reads our objects back unchanged; and
// read-back, the kernel's tables decoded into the IR over the same sockets.
//   netlink_encode.{h,cpp}  IR → libnftnl expressions, sets, elements
//   netlink_batch.cpp       the batch: generation, chunking, errors → ops
//   netlink_readback.cpp    dumps → IR (the inverse of the encoder): tables,
//                           chains, sets, elements
//   netlink_decode.{h,cpp}  one rule's expressions → IR, values, verdicts
//   netlink_socket.{h,cpp}  sockets in a network namespace, requests, dumps
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"
#include "rampart/compiler/transaction.h"

namespace rampart::compiler::netlink {

// Largest element-list nest per NEWSETELEM/DELSETELEM message. Netlink
// attribute lengths are 16 bits, so one message cannot carry more than 64 KiB
// of elements; big set updates become several messages in the same batch.
inline constexpr std::size_t kElementChunkBytes = 32 * 1024;

// The ruleset generation id (NFT_MSG_GETGEN) of `netns` ("" = ours).
[[nodiscard]] Result<std::uint32_t> generation(const std::string& netns);

struct BatchStats {
  std::size_t messages = 0;  // between BATCH_BEGIN and BATCH_END
  std::size_t bytes = 0;
  std::size_t element_messages = 0;
};

// Sends `tx` as one batch bound to `genid` (NFNL_BATCH_GENID: the kernel
// refuses the whole batch with ERESTART when the ruleset changed since).
// Without a genid the current one is read first. All or nothing; a refusal
// names the op: "op N (<nft text of the op>): <kernel's reason>".
[[nodiscard]] Result<BatchStats> apply(const std::string& netns, const Transaction& tx, std::optional<std::uint32_t> genid);

// The error text for a generation mismatch (callers may retry on it).
inline constexpr const char* kGenerationChanged = "the nftables ruleset changed since it was read";

using TableName = std::pair<Family, std::string>;

// The tables in the kernel (ip, ip6, inet, bridge), in the kernel's order.
[[nodiscard]] Result<std::vector<TableName>> list_tables(const std::string& netns);

// The named tables that exist, decoded into the IR: chains and rules in the
// kernel's order, sets with their elements (sorted; intervals as [key,
// key_end]). Every decoded rule encodes back to exactly the kernel's
// expressions. A chain, rule, set or element that Rampart does not write
// fails the whole read with an error starting with kNotUnderstood (callers
// rebuild). Other tables are not read.
[[nodiscard]] Result<Ruleset> read_tables(const std::string& netns, const std::vector<TableName>& names);

inline constexpr const char* kNotUnderstood = "not understood";

}  // namespace rampart::compiler::netlink
