#include "rampart/engine/model.h"

namespace rampart::engine {

const char* kind_name(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kNetworkPolicy: return "NetworkPolicy";
    case PolicyKind::kGlobalNetworkPolicy: return "GlobalNetworkPolicy";
    case PolicyKind::kKubernetesNetworkPolicy: return "KubernetesNetworkPolicy";
    case PolicyKind::kStagedNetworkPolicy: return "StagedNetworkPolicy";
    case PolicyKind::kStagedGlobalNetworkPolicy: return "StagedGlobalNetworkPolicy";
    case PolicyKind::kStagedKubernetesNetworkPolicy: return "StagedKubernetesNetworkPolicy";
  }
  return "NetworkPolicy";
}

const Tier* Model::find_tier(std::string_view name) const {
  for (const auto& tier : tiers)
    if (tier.name == name) return &tier;
  return nullptr;
}

const Namespace* Model::find_namespace(std::string_view name) const {
  for (const auto& ns : namespaces)
    if (ns.name == name) return &ns;
  return nullptr;
}

}  // namespace rampart::engine
