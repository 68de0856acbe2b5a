#include "lint_cell.h"

namespace rampart::verify::detail::lint {

const RuleTerm* find_rule(const ChainTerm& chain, const Rule* rule, std::vector<const RuleTerm*>* before) {
  for (const auto& tier : chain.tiers)
    for (const auto& pt : tier.policies)
      for (const auto& rt : pt.rules) {
        if (rt.rule == rule) return &rt;
        if (before && rt.rule->action != Action::kLog) before->push_back(&rt);
      }
  return nullptr;
}

const PolicyTerm* find_policy(const ChainTerm& chain, const Policy* p) {
  for (const auto& tier : chain.tiers)
    for (const auto& pt : tier.policies)
      if (pt.policy == p) return &pt;
  return nullptr;
}

const Policy* owner(const ChainTerm& chain, const RuleTerm* rt) {
  for (const auto& tier : chain.tiers)
    for (const auto& pt : tier.policies)
      for (const auto& r : pt.rules)
        if (&r == rt) return pt.policy;
  return nullptr;
}

}  // namespace rampart::verify::detail::lint
