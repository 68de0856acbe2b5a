#include "rampart/engine/policy_order.h"

#include <algorithm>
#include <limits>
#include <map>

namespace rampart::engine {

std::string policy_sort_key(const Policy& policy) {
  return policy.name + "/" + policy.ns + "/" + kind_name(policy.kind);
}

std::vector<OrderedTier> order_policies(const Model& model) {
  std::map<std::string, OrderedTier, std::less<>> tiers;
  for (const auto& tier : model.tiers) {
    auto& t = tiers[tier.name];
    t.name = tier.name;
    t.default_action = tier.default_action;
    t.declared = tier.declared;
    t.tier = &tier;
  }
  for (const auto& policy : model.policies) {
    if (policy.staged()) continue;
    const std::string tier_name = policy.tier.empty() ? "default" : policy.tier;
    auto [it, inserted] = tiers.try_emplace(tier_name);
    if (inserted) {
      // A tier no Tier resource declares: applied after every declared tier,
      // with an empty default action that behaves as Deny (§7.10).
      it->second.name = tier_name;
      it->second.declared = false;
      it->second.default_action = Action::kDeny;
    }
    it->second.policies.push_back(&policy);
  }

  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<OrderedTier> out;
  out.reserve(tiers.size());
  for (auto& [name, tier] : tiers) {
    std::vector<std::pair<std::string, const Policy*>> keyed;
    keyed.reserve(tier.policies.size());
    for (const Policy* p : tier.policies) keyed.emplace_back(policy_sort_key(*p), p);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      const double oa = a.second->order.value_or(kInf);
      const double ob = b.second->order.value_or(kInf);
      if (oa != ob) return oa < ob;
      return a.first < b.first;
    });
    tier.policies.clear();
    for (const auto& [key, p] : keyed) tier.policies.push_back(p);
    out.push_back(std::move(tier));
  }
  std::stable_sort(out.begin(), out.end(), [&](const OrderedTier& a, const OrderedTier& b) {
    if (a.declared != b.declared) return a.declared;
    const double oa = a.tier && a.tier->order ? *a.tier->order : kInf;
    const double ob = b.tier && b.tier->order ? *b.tier->order : kInf;
    if (oa != ob) return oa < ob;
    return a.name < b.name;
  });
  return out;
}

}  // namespace rampart::engine
