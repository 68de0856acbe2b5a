// Checks that need the whole model rather than one document.
#include <map>
#include <set>

#include "rampart/engine/validate.h"

namespace rampart::engine {

namespace {

bool any_address(const EntityRule& e) {
  return e.nets.empty() && e.not_nets.empty() && e.selector.empty() && e.not_selector.empty() &&
         e.namespace_selector.empty() && e.ports.empty() && e.not_ports.empty() && !e.service_accounts && !e.services;
}

bool allow_all(const std::vector<Rule>& rules) {
  return rules.size() == 1 && rules[0].action == Action::kAllow && !rules[0].protocol && !rules[0].not_protocol &&
         !rules[0].ip_version && !rules[0].icmp && !rules[0].not_icmp && any_address(rules[0].source) &&
         any_address(rules[0].destination);
}

// Loaded Profile resources the decision procedure does not apply yet: the
// evaluator builds in kns.<ns> (allow-all), ksa.* (no rules) and
// projectcalico-default-allow, and treats every other profile as allowing
// nothing and giving no labels. Said where it can change a verdict.
void check_profiles(const Model& model, std::vector<Diagnostic>& out) {
  if (model.profiles.empty()) return;
  std::map<std::string_view, const Profile*> by_name;
  for (const auto& p : model.profiles) by_name[p.name] = &p;
  for (const auto& p : model.profiles)
    if (p.name.starts_with("kns.") && !(allow_all(p.ingress) && allow_all(p.egress)))
      out.push_back(make_diagnostic("RP4004",
                                    "profile " + p.name +
                                        ": the analysis uses Calico's generated namespace profile (allow all "
                                        "ingress and egress), not these rules",
                                    p.where));
  for (const auto& ep : model.endpoints) {
    if (ep.kind != EndpointKind::kHostEndpoint) continue;
    for (const auto& name : ep.profiles) {
      const auto it = by_name.find(name);
      if (it == by_name.end() || name == "projectcalico-default-allow" || name.starts_with("kns.")) continue;
      const Profile& p = *it->second;
      if (p.ingress.empty() && p.egress.empty() && p.labels_to_apply.empty()) continue;
      Diagnostic d = make_diagnostic(
          "RP4004",
          "host endpoint " + ep.name + " lists profile \"" + name +
              "\": the analysis does not apply a profile's rules or labelsToApply yet; it decides as if this "
              "profile allowed nothing and gave no labels",
          ep.where);
      d.related.push_back({p.where, "profile " + name});
      out.push_back(std::move(d));
    }
  }
}

}  // namespace

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
  check_profiles(model, out);
  return out;
}

}  // namespace rampart::engine
