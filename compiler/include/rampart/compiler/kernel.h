// The kernel side: applies transactions to nftables in one network namespace
// and reads our tables back for drift detection.
//
// Today a transaction goes to the kernel as ONE `nft -f` script (nft sends it
// as one netlink batch: all or nothing); errors are mapped back to the op
// that caused them through the script's line numbers (one op per line). The
// libnftnl/libmnl batch writer is not written yet (see README.md).
#pragma once

#include <string>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"
#include "rampart/compiler/transaction.h"

namespace rampart::compiler {

class Kernel {
 public:
  // netns: a name from `ip netns` (/run/netns/NAME), or "" for the caller's.
  explicit Kernel(std::string netns = "") : netns_(std::move(netns)) {}

  // All or nothing. On a kernel refusal the error names the failing op:
  // "op N (add rule inet rampart …): <nft's message>".
  [[nodiscard]] Result<void> apply(const Transaction& tx) const;

  // `nft list table` text (terse: without set elements).
  [[nodiscard]] Result<std::string> list(Family family, const std::string& table, bool terse = false) const;
  [[nodiscard]] Result<std::string> list_ruleset() const;

  // Drift detection: "" when the kernel holds exactly `desired`'s tables
  // (chains, rules, set declarations and elements, order-insensitive), else a
  // description of the first difference.
  [[nodiscard]] Result<std::string> drift(const Ruleset& desired) const;

  // Runs nft with `args` and `input` on stdin in this namespace.
  struct Output {
    int status = 0;
    std::string out, err;
  };
  [[nodiscard]] Result<Output> nft(const std::vector<std::string>& args, const std::string& input = "") const;

 private:
  std::string netns_;
};

// The listing with the table's top-level blocks (sets, chains) sorted by name,
// elements removed: what `nft -t list table` and render(…, terse) share.
[[nodiscard]] std::string canonical_listing(const std::string& listing);

}  // namespace rampart::compiler
