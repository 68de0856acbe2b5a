#include "rampart/enforcer/nft_dataplane.h"

#include <utility>

#include "rampart/compiler/diff.h"
#include "rampart/enforcer/kernel_state.h"
#include "rampart/enforcer/log.h"

namespace rampart::enforcer {

NftDataplane::NftDataplane(std::string node, compiler::NodeConfig config, std::string netns)
    : node_(std::move(node)), config_(std::move(config)), kernel_(std::move(netns)) {}

Result<compiler::Ruleset> NftDataplane::desired() const {
  std::map<std::string, std::string> interfaces;  // "ns/pod" → host-side interface
  for (const auto& [id, ep] : endpoints_) {
    if (!ep.host_interface.empty()) interfaces[ep.pod()] = ep.host_interface;
  }
  const auto local = compiler::node_endpoints(model_, node_, interfaces);
  return compiler::lower(model_, local, config_);
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
  return generation ? kernel_.apply(tx, *generation) : kernel_.apply(tx);
}

// The transaction from what the kernel holds now (read back) to `wanted`;
// a rebuild when the read-back cannot be turned into IR.
Result<compiler::Transaction> NftDataplane::from_kernel(const compiler::Ruleset& wanted) {
  report_.read_kernel = true;
  read_generation_.reset();
  if (auto generation = kernel_.generation()) read_generation_ = *generation;
  // Both tables we may own, so a mode switch removes the one no longer wanted.
  auto state = read_kernel_state(kernel_, wanted,
                                 {{compiler::Family::kInet, config_.table}, {compiler::Family::kBridge, config_.table}});
  if (!state) {
    log(LogLevel::kWarning, "kernel read-back not understood; rebuilding our tables in one batch",
        {{"error", state.error().str()}});
    report_.rebuilt = true;
    return compiler::rebuild(wanted, programmed_);
  }
  report_.chains_differing = state->chains_differing;
  return compiler::diff(state->ruleset, wanted);
}

Result<void> NftDataplane::program() {
  if (!have_model_) return fail(ErrorCode::kUnavailable, "no model yet (datastore not in sync)");
  auto wanted = desired();
  if (!wanted) return std::unexpected(wanted.error());
  report_ = {};
  Result<compiler::Transaction> tx = kernel_known_ ? compiler::diff(programmed_, *wanted) : from_kernel(*wanted);
  if (!tx) return std::unexpected(tx.error());
  if (auto invalid = tx->error(); !invalid) return std::unexpected(invalid.error());
  auto applied = apply(*tx);
  if (!applied && kernel_known_) {
    // Refused: either the batch itself or the kernel was not what we thought
    // (drift). Read the kernel back and try once more from what it holds.
    kernel_known_ = false;
    report_ = {};
    tx = from_kernel(*wanted);
    if (!tx) return std::unexpected(tx.error());
    if (auto invalid = tx->error(); !invalid) return std::unexpected(invalid.error());
    applied = apply(*tx);
  }
  if (!applied) {
    kernel_known_ = false;  // all or nothing: the kernel kept its previous state; re-read next time
    return std::unexpected(applied.error());
  }
  programmed_ = std::move(*wanted);
  kernel_known_ = true;
  return {};
}

Result<void> NftDataplane::set_model(const engine::Model& model) {
  model_ = model;
  have_model_ = true;
  return program();
}

Result<void> NftDataplane::add_endpoint(const LocalEndpoint& endpoint) {
  endpoints_[endpoint.id()] = endpoint;
  return program();
}

Result<void> NftDataplane::remove_endpoint(const std::string& id) {
  if (endpoints_.erase(id) == 0) return {};
  return program();
}

void NftDataplane::restore_endpoints(const std::vector<LocalEndpoint>& endpoints) {
  for (const auto& ep : endpoints) endpoints_[ep.id()] = ep;
}

Result<std::string> NftDataplane::read_back() {
  if (!have_model_) return std::string();
  if (!kernel_known_) return std::string("the kernel's state is not known: the last write was refused");
  return kernel_.drift(programmed_);
}

// Drift: read the kernel back and patch only what differs.
Result<void> NftDataplane::repair() {
  kernel_known_ = false;
  return program();
}

}  // namespace rampart::enforcer
