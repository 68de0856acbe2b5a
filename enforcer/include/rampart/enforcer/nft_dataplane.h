// The compiler-backed Dataplane: lowers the model for this node's pods to the
// nft IR and applies the difference as one transaction (compiler::diff).
//
// It never rebuilds what it can patch. When it does not know what the kernel
// holds — at start (a restarted agent finds the previous agent's tables), after
// a refused batch, after drift — it reads our tables back (kernel_state.h) and
// diffs against that, so a restart changes only what changed while no agent
// ran, and an unchanged kernel gets no write at all. compiler::rebuild (one
// transaction: add, delete, create) is the fallback when the read-back cannot
// be parsed or a declaration changed in place. Other tables are never touched.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "rampart/compiler/ir.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/transaction.h"
#include "rampart/enforcer/dataplane.h"

namespace rampart::enforcer {

// What the last write did, for logs, metrics and tests.
struct ApplyReport {
  bool read_kernel = false;  // the kernel's state was read back first
  bool rebuilt = false;      // compiler::rebuild was used (not an incremental diff)
  std::size_t ops = 0;       // operations sent (0: the kernel already held the state)
  std::size_t chains_differing = 0;  // read-back: chains of ours not as desired
};

class NftDataplane final : public Dataplane {
 public:
  // netns: "" for the agent's own network namespace (production), or a name
  // under /run/netns (tests).
  NftDataplane(std::string node, compiler::NodeConfig config, std::string netns = "");

  Result<void> set_model(const engine::Model& model) override;
  Result<void> add_endpoint(const LocalEndpoint& endpoint) override;
  Result<void> remove_endpoint(const std::string& id) override;
  void restore_endpoints(const std::vector<LocalEndpoint>& endpoints) override;
  Result<std::string> read_back() override;
  Result<void> repair() override;
  [[nodiscard]] std::size_t last_write_ops() const override { return report_.ops; }

  [[nodiscard]] const compiler::Ruleset& programmed() const { return programmed_; }
  [[nodiscard]] const ApplyReport& last_report() const { return report_; }

  // Fault injection for tests: runs before every kernel write; an error is
  // treated exactly like the kernel refusing the batch (nothing applied).
  using ApplyGate = std::function<Result<void>(const compiler::Transaction&)>;
  void set_apply_gate(ApplyGate gate) { gate_ = std::move(gate); }

 private:
  Result<compiler::Ruleset> desired() const;
  Result<void> program();
  Result<void> apply(const compiler::Transaction& tx);
  Result<compiler::Transaction> from_kernel(const compiler::Ruleset& wanted);

  std::string node_;
  compiler::NodeConfig config_;
  compiler::Kernel kernel_;
  engine::Model model_;
  bool have_model_ = false;
  std::map<std::string, LocalEndpoint> endpoints_;  // by id
  compiler::Ruleset programmed_;
  bool kernel_known_ = false;  // programmed_ is what the kernel holds
  ApplyReport report_;
  std::optional<std::uint32_t> read_generation_;  // ruleset generation at the last read-back
  ApplyGate gate_;
};

}  // namespace rampart::enforcer
