// The compiler-backed Dataplane: lowers the model for this node's pods to the
// nft IR and applies the difference as one transaction. A change the agent
// describes (update_model) goes through compiler::NodeLowering: only the
// chains and sets it touches are lowered again, and the delta is the batch.
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
#include "rampart/compiler/node_lowering.h"
#include "rampart/compiler/transaction.h"
#include "rampart/enforcer/dataplane.h"

namespace rampart::enforcer {

// What the last write did, for logs, metrics and tests.
struct ApplyReport {
  bool read_kernel = false;  // the kernel's state was read back first
  bool rebuilt = false;      // compiler::rebuild was used (not an incremental diff)
  std::size_t ops = 0;       // operations sent (0: the kernel already held the state)
  std::size_t chains_differing = 0;  // read-back: chains of ours not as desired
  // Where the write's time went (wall seconds): lowering (incremental or
  // full), reading the kernel back (with the diff), the kernel batch.
  double lower_seconds = 0, read_seconds = 0, kernel_seconds = 0;
};

class NftDataplane final : public Dataplane {
 public:
  // netns: "" for the agent's own network namespace (production), or a name
  // under /run/netns (tests).
  NftDataplane(std::string node, compiler::NodeConfig config, std::string netns = "");

  Result<void> set_model(const engine::Model& model) override;
  Result<void> update_model(const engine::Model& model, const compiler::ModelChange& change) override;
  Result<void> add_endpoint(const LocalEndpoint& endpoint) override;
  Result<void> remove_endpoint(const std::string& id) override;
  void stage_endpoint(const LocalEndpoint& endpoint) override { endpoints_[endpoint.id()] = endpoint; }
  void unstage_endpoint(const std::string& id) override { endpoints_.erase(id); }
  void restore_endpoints(const std::vector<LocalEndpoint>& endpoints) override;
  Result<ConntrackFlush> forget_flows(const std::vector<std::string>& addresses) override {
    return flush_conntrack(addresses, netns_);
  }
  Result<std::string> read_back() override;
  Result<void> repair() override;
  [[nodiscard]] std::size_t last_write_ops() const override { return report_.ops; }
  [[nodiscard]] compiler::FailClosed fail_closed() const override {
    return lowering_ready_ ? lowering_.fail_closed() : compiler::FailClosed{};
  }

  // What the last successful write left in the kernel.
  [[nodiscard]] const compiler::Ruleset& programmed() const { return lowering_.ruleset(); }
  [[nodiscard]] const ApplyReport& last_report() const { return report_; }

  // Fault injection for tests: runs before every kernel write; an error is
  // treated exactly like the kernel refusing the batch (nothing applied).
  using ApplyGate = std::function<Result<void>(const compiler::Transaction&)>;
  void set_apply_gate(ApplyGate gate) { gate_ = std::move(gate); }

 private:
  [[nodiscard]] std::map<std::string, std::string> interfaces() const;
  Result<void> program(const compiler::ModelChange& change);
  Result<void> apply(const compiler::Transaction& tx);
  Result<compiler::Transaction> from_kernel(const compiler::Ruleset& wanted);

  std::string node_;
  std::string netns_;  // "" = ours (conntrack flushes go there too)
  compiler::NodeConfig config_;
  compiler::Kernel kernel_;
  const engine::Model* model_ = nullptr;  // the caller's (Dataplane::set_model)
  std::map<std::string, LocalEndpoint> endpoints_;  // by id
  compiler::NodeLowering lowering_;  // the desired ruleset, kept current
  bool lowering_ready_ = false;      // lowering_ matches the model (else reset() first)
  bool kernel_known_ = false;        // the kernel holds lowering_.ruleset()
  ApplyReport report_;
  std::optional<std::uint32_t> read_generation_;  // ruleset generation at the last read-back
  ApplyGate gate_;
};

}  // namespace rampart::enforcer
