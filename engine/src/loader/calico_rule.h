// Reading one Calico v3 Rule (calico-semantics.md §3.4–§3.6) with every
// rule-level check of §5.3, and the policy-level ones that depend on the
// direction or kind (§5.2 P10–P13).
#pragma once

#include "rampart/engine/model.h"
#include "yaml_view.h"

namespace rampart::engine::loader {

struct RuleContext {
  Direction direction = Direction::kIngress;
  bool global = false;  // GlobalNetworkPolicy (or staged): services need a namespace
};

// Returns the rule; errors are counted in the sink (the caller refuses the policy).
[[nodiscard]] Rule read_calico_rule(Sink& sink, const Node& node, const std::string& path,
                                    const RuleContext& context);

}  // namespace rampart::engine::loader
