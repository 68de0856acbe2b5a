#include "rampart/enforcer/nft_dataplane.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "rampart/compiler/diff.h"
#include "rampart/enforcer/kernel_state.h"
#include "rampart/enforcer/log.h"

namespace rampart::enforcer {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

NftDataplane::NftDataplane(std::string node, compiler::NodeConfig config, std::string netns)
    : node_(std::move(node)), netns_(netns), config_(config), kernel_(std::move(netns)), lowering_(node_, std::move(config)) {}

std::map<std::string, std::string> NftDataplane::interfaces() const {
  std::map<std::string, std::string> out;  // "ns/pod" → host-side interface
  for (const auto& [id, ep] : endpoints_) {
    if (!ep.host_interface.empty()) out[ep.pod()] = ep.host_interface;
  }
  return out;
}

Result<void> NftDataplane::apply(const compiler::Transaction& tx) {
  report_.ops = tx.ops().size();
  if (tx.empty()) return {};
  if (gate_) {
    if (auto allowed = gate_(tx); !allowed) return allowed;
  }
  // A diff against a read-back is only right if nobody committed since the
  // read: bind the batch to that generation (the kernel refuses it otherwise,
  // and the next write reads again).
  const auto generation = std::exchange(read_generation_, std::nullopt);
  const auto t0 = std::chrono::steady_clock::now();
  auto applied = generation ? kernel_.apply(tx, *generation) : kernel_.apply(tx);
  report_.kernel_seconds += seconds_since(t0);
  return applied;
}

// The transaction from what the kernel holds now (read back) to `wanted`;
// a rebuild when the read-back cannot be turned into IR.
Result<compiler::Transaction> NftDataplane::from_kernel(const compiler::Ruleset& wanted) {
  report_.read_kernel = true;
  read_generation_.reset();
  if (auto generation = kernel_.generation()) read_generation_ = *generation;
  // Both tables we may own, so a mode switch removes the one no longer wanted.
  const std::vector<std::pair<compiler::Family, std::string>> owned = {{compiler::Family::kInet, config_.table},
                                                                        {compiler::Family::kBridge, config_.table}};
  auto state = read_kernel_state(kernel_, wanted, owned);
  if (!state) {
    log(LogLevel::kWarning, "kernel read-back not understood; rebuilding our tables in one batch",
        {{"error", state.error().str()}});
    report_.rebuilt = true;
    // The rebuild also deletes an owned table the wanted ruleset lacks (the
    // other mode's, after a switch); only names are needed, and a delete of
    // a table that is not there would fail the batch.
    auto present = kernel_.tables();
    if (!present) return std::unexpected(present.error());
    compiler::Ruleset current;
    for (const auto& table : *present)
      if (std::find(owned.begin(), owned.end(), table) != owned.end())
        current.tables.push_back(compiler::Table{.family = table.first, .name = table.second});
    return compiler::rebuild(wanted, current);
  }
  report_.chains_differing = state->chains_differing;
  return compiler::diff(state->ruleset, wanted);
}

// While the kernel is known to hold the lowering's ruleset, a change is one
// incremental lowering and its delta. Otherwise (start, a refused batch,
// drift, a lowering error) the ruleset is lowered in full if it may be stale
// and diffed against what the kernel holds, read back.
Result<void> NftDataplane::program(const compiler::ModelChange& change) {
  if (!model_) return fail(ErrorCode::kUnavailable, "no model yet (datastore not in sync)");
  report_ = {};
  const auto ifs = interfaces();
  if (lowering_ready_ && !kernel_known_) {
    // A write was refused after the lowering took an earlier change; this
    // change (the agent passes everything unwritten) must still reach the
    // lowering, or the kernel would be diffed against a ruleset without it
    // (a removed policy or member kept: a wrong allow). Re-listing the
    // earlier change is harmless; its delta is not used, the diff against
    // the read-back below is.
    const auto t0 = std::chrono::steady_clock::now();
    auto tx = lowering_.update(*model_, change, ifs);
    report_.lower_seconds += seconds_since(t0);
    if (!tx || !tx->error()) lowering_ready_ = false;  // lowered in full below
  }
  if (lowering_ready_ && kernel_known_) {
    const auto t0 = std::chrono::steady_clock::now();
    auto tx = lowering_.update(*model_, change, ifs);
    report_.lower_seconds += seconds_since(t0);
    if (!tx) {
      lowering_ready_ = false;  // stale until reset(); the kernel still holds the previous ruleset
      kernel_known_ = false;
      return std::unexpected(tx.error());
    }
    if (auto invalid = tx->error(); !invalid) {
      lowering_ready_ = false;
      kernel_known_ = false;
      return std::unexpected(invalid.error());
    }
    if (apply(*tx)) return {};
    // Refused: either the batch itself or the kernel was not what we thought
    // (drift). Read the kernel back and try once more from what it holds.
    kernel_known_ = false;
    report_ = {};
  }
  if (!lowering_ready_) {
    const auto t0 = std::chrono::steady_clock::now();
    auto reset = lowering_.reset_state(*model_, ifs);
    report_.lower_seconds += seconds_since(t0);
    if (!reset) return std::unexpected(reset.error());
    lowering_ready_ = true;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto tx = from_kernel(lowering_.ruleset());
  report_.read_seconds += seconds_since(t0);
  // The assembled ruleset is a second copy of the lowering; the batch does
  // not need it (peak and steady RSS, #7).
  lowering_.release_ruleset();
  if (!tx) return std::unexpected(tx.error());
  if (auto invalid = tx->error(); !invalid) return std::unexpected(invalid.error());
  if (auto applied = apply(*tx); !applied) {
    kernel_known_ = false;  // all or nothing: the kernel kept its previous state; re-read next time
    return applied;
  }
  kernel_known_ = true;
  return {};
}

Result<void> NftDataplane::set_model(const engine::Model& model) {
  model_ = &model;
  return program(compiler::ModelChange{.everything = true});
}

Result<void> NftDataplane::update_model(const engine::Model& model, const compiler::ModelChange& change) {
  if (model_ != &model) return set_model(model);
  return program(change);
}

Result<void> NftDataplane::add_endpoint(const LocalEndpoint& endpoint) {
  endpoints_[endpoint.id()] = endpoint;
  compiler::ModelChange change;
  change.endpoints.insert(endpoint.pod());
  return program(change);
}

Result<void> NftDataplane::remove_endpoint(const std::string& id) {
  const auto it = endpoints_.find(id);
  if (it == endpoints_.end()) return {};
  compiler::ModelChange change;
  change.endpoints.insert(it->second.pod());
  endpoints_.erase(it);
  return program(change);
}

void NftDataplane::restore_endpoints(const std::vector<LocalEndpoint>& endpoints) {
  for (const auto& ep : endpoints) endpoints_[ep.id()] = ep;
}

Result<std::string> NftDataplane::read_back() {
  if (!model_) return std::string();
  if (!kernel_known_) return std::string("the kernel's state is not known: the last write was refused");
  auto drift = kernel_.drift(lowering_.ruleset());
  lowering_.release_ruleset();
  return drift;
}

// Drift: read the kernel back and patch only what differs.
Result<void> NftDataplane::repair() {
  kernel_known_ = false;
  lowering_ready_ = false;  // lowered again in full: the repair does not trust any incremental state
  return program(compiler::ModelChange{.everything = true});
}

}  // namespace rampart::enforcer
