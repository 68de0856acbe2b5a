// The kernel side: applies transactions to nftables in one network namespace
// and reads our tables back for drift detection.
//
// A transaction goes to the kernel as ONE nfnetlink batch (all or nothing):
// by default built with libnftnl and sent with libmnl (netlink.cpp), bound to
// the ruleset's generation id; or, as the baseline and a fallback, as one
// `nft -f` script. Either way a refusal names the op that caused it.
// Read-back (read_back, drift) decodes netlink dumps into the IR; `nft`
// listings (list, drift_nft) remain as the independent path tests compare with.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"
#include "rampart/compiler/transaction.h"

namespace rampart::compiler {

enum class KernelBackend {
  kNetlink,  // libnftnl/libmnl batch, generation-checked (default)
  kNftText,  // render(tx) through `nft -f -` (baseline, fallback)
};

class Kernel {
 public:
  // netns: a name from `ip netns` (/run/netns/NAME), or "" for the caller's.
  explicit Kernel(std::string netns = "", KernelBackend backend = KernelBackend::kNetlink)
      : netns_(std::move(netns)), backend_(backend) {}

  // All or nothing. On a kernel refusal the error names the failing op:
  // "op N (add rule inet rampart …): <reason>".
  [[nodiscard]] Result<void> apply(const Transaction& tx) const;
  // The same, refused as a whole (nothing changed, error text contains
  // "ruleset changed since it was read") when the ruleset's generation is no
  // longer `generation` — e.g. another program committed between a read-back
  // and this apply. Atomic with the netlink backend; the text backend can only
  // check just before running nft.
  [[nodiscard]] Result<void> apply(const Transaction& tx, std::uint32_t generation) const;
  // The ruleset generation id (NFT_MSG_GETGEN); every commit increments it.
  [[nodiscard]] Result<std::uint32_t> generation() const;
  [[nodiscard]] KernelBackend backend() const { return backend_; }

  // Read-back through netlink: the tables named that exist, as IR (chains
  // and rules in the kernel's order, set elements sorted). Fails with an
  // error containing "not understood" when our tables hold anything Rampart
  // does not write (callers rebuild); other tables are never read.
  [[nodiscard]] Result<Ruleset> read_back(const std::vector<std::pair<Family, std::string>>& tables) const;
  // Every table in the namespace (ip, ip6, inet, bridge), the kernel's order.
  [[nodiscard]] Result<std::vector<std::pair<Family, std::string>>> tables() const;

  // `nft list table` text (terse: without set elements).
  [[nodiscard]] Result<std::string> list(Family family, const std::string& table, bool terse = false) const;
  [[nodiscard]] Result<std::string> list_ruleset() const;

  // Drift detection: "" when the kernel holds exactly `desired`'s tables
  // (chains, rules, set declarations and elements, order-insensitive), else a
  // description of the first difference.
  // Reads back through netlink; anything not understood is drift.
  [[nodiscard]] Result<std::string> drift(const Ruleset& desired) const;
  // The same through `nft -t list` and `nft -j list` (the baseline and oracle).
  [[nodiscard]] Result<std::string> drift_nft(const Ruleset& desired) const;

  // Runs nft with `args` and `input` on stdin in this namespace.
  struct Output {
    int status = 0;
    std::string out, err;
  };
  [[nodiscard]] Result<Output> nft(const std::vector<std::string>& args, const std::string& input = "") const;

 private:
  [[nodiscard]] Result<void> apply_text(const Transaction& tx) const;
  std::string netns_;
  KernelBackend backend_ = KernelBackend::kNetlink;
};

// The listing with the table's top-level blocks (sets, chains) sorted by name,
// elements removed: what `nft -t list table` and render(…, terse) share.
[[nodiscard]] std::string canonical_listing(const std::string& listing);

}  // namespace rampart::compiler
