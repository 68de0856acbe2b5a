// The order in which tiers and policies are consulted (calico-semantics.md
// §4.2), shared by the flow evaluator and the reachability engine so that
// both walk the same sequence.
#pragma once

#include <string>
#include <vector>

#include "rampart/engine/model.h"

namespace rampart::engine {

struct OrderedTier {
  std::string name;
  Action default_action = Action::kDeny;
  bool declared = true;
  const Tier* tier = nullptr;             // nullptr: named only by policies, not in model.tiers
  std::vector<const Policy*> policies;    // enforced (non-staged) policies, in policy order
};

// Tiers: declared before undeclared, then order (unset last), then name.
// Policies: order (unset = +inf), then "<name>/<namespace>/<kind>" bytewise.
// Staged policies are left out: they are never enforced (§3.12).
[[nodiscard]] std::vector<OrderedTier> order_policies(const Model& model);

// Felix's tie-break key "<name>/<namespace>/<kind>".
[[nodiscard]] std::string policy_sort_key(const Policy& policy);

}  // namespace rampart::engine
