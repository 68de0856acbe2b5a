// The compiler-backed Dataplane: lowers the model for this node's pods to the
// nft IR, and applies the difference to what it last programmed as one
// transaction (compiler::diff); the first apply, and any apply after a
// failure, replaces our tables wholesale (compiler::rebuild). Other tables
// are never touched.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "rampart/compiler/ir.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/enforcer/dataplane.h"

namespace rampart::enforcer {

class NftDataplane final : public Dataplane {
 public:
  // netns: "" for the agent's own network namespace (production), or a name
  // under /run/netns (tests).
  NftDataplane(std::string node, compiler::NodeConfig config, std::string netns = "");

  Result<void> set_model(const engine::Model& model) override;
  Result<void> add_endpoint(const LocalEndpoint& endpoint) override;
  Result<void> remove_endpoint(const std::string& id) override;
  Result<std::string> read_back() override;
  Result<void> repair() override;

  [[nodiscard]] const compiler::Ruleset& programmed() const { return programmed_; }

 private:
  Result<compiler::Ruleset> desired() const;
  Result<void> program();

  std::string node_;
  compiler::NodeConfig config_;
  compiler::Kernel kernel_;
  engine::Model model_;
  bool have_model_ = false;
  std::map<std::string, LocalEndpoint> endpoints_;  // by id
  compiler::Ruleset programmed_;
  bool need_rebuild_ = true;  // nothing programmed yet, or the last apply failed
};

}  // namespace rampart::enforcer
