// Checks that need the whole model rather than one document.
#include <set>

#include "rampart/engine/validate.h"

namespace rampart::engine {

std::vector<Diagnostic> validate_model(const Model& model) {
  std::vector<Diagnostic> out;
  std::set<std::string, std::less<>> declared{"default", "kube-admin", "kube-baseline"};
  for (const auto& tier : model.tiers)
    if (tier.declared) declared.insert(tier.name);
  std::set<std::string, std::less<>> reported;
  for (const auto& policy : model.policies) {
    if (declared.contains(policy.tier) || reported.contains(policy.tier)) continue;
    reported.insert(policy.tier);
    out.push_back(make_diagnostic("RP2014",
                                  "tier \"" + policy.tier + "\" is not declared (policy " + policy.qualified_name() +
                                      "); the API server refuses the policy, Felix would order the tier last",
                                  policy.where));
  }
  return out;
}

}  // namespace rampart::engine
