#include "rampart/enforcer/nft_dataplane.h"

#include "rampart/compiler/diff.h"

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

Result<void> NftDataplane::program() {
  if (!have_model_) return fail(ErrorCode::kUnavailable, "no model yet (datastore not in sync)");
  auto wanted = desired();
  if (!wanted) return std::unexpected(wanted.error());
  compiler::Transaction tx =
      need_rebuild_ ? compiler::rebuild(*wanted, programmed_) : compiler::diff(programmed_, *wanted);
  if (auto invalid = tx.error(); !invalid) return std::unexpected(invalid.error());
  if (!tx.empty()) {
    auto applied = kernel_.apply(tx);
    if (!applied && !need_rebuild_) {
      // The kernel was not what we thought (drift): replace our tables whole.
      tx = compiler::rebuild(*wanted, programmed_);
      applied = kernel_.apply(tx);
    }
    if (!applied) {
      need_rebuild_ = true;
      return std::unexpected(applied.error());
    }
  }
  programmed_ = std::move(*wanted);
  need_rebuild_ = false;
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

Result<std::string> NftDataplane::read_back() {
  if (!have_model_) return std::string();
  return kernel_.drift(programmed_);
}

Result<void> NftDataplane::repair() {
  need_rebuild_ = true;
  return program();
}

}  // namespace rampart::enforcer
