// Fills the model's "effective" fields (calico-semantics.md §1.6–§1.7) the way
// Calico's syncer update processors do: selectors are combined as TEXT and
// re-parsed, so quirks that live in the text (the GNP all() substitution) are
// reproduced exactly.
#include "rampart/engine/normalize.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "rampart/engine/validate.h"

namespace rampart::engine {
namespace {

constexpr std::string_view kNamespaceLabel = "projectcalico.org/namespace";
constexpr std::string_view kOrchestratorLabel = "projectcalico.org/orchestrator";
constexpr std::string_view kServiceAccountLabel = "projectcalico.org/serviceaccount";
constexpr std::string_view kNameLabel = "projectcalico.org/name";
constexpr std::string_view kMetadataName = "kubernetes.io/metadata.name";

std::string quote(std::string_view value) {
  const char q = value.find('"') == std::string_view::npos ? '"' : '\'';
  return q + std::string(value) + q;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

// prefix(S, p): every label key prefixed, re-emitted canonically (selectors.go).
std::string prefixed(std::string_view text, std::string_view prefix) {
  auto parsed = selector::Selector::parse(text);
  if (!parsed) return std::string(text);  // reported by the loader; re-parse fails below
  return selector::canonical_text(*selector::prefix_keys(parsed->root_ptr(), prefix));
}

std::string namespace_clause(std::string_view ns) { return std::string(kNamespaceLabel) + " == " + quote(ns); }

// A selector that matches nothing: what an unparsable selector is made into.
selector::Selector nothing() {
  auto all = std::make_shared<selector::Node>();
  all->op = selector::Op::kAll;
  auto not_node = std::make_shared<selector::Node>();
  not_node->op = selector::Op::kNot;
  not_node->children.push_back(all);
  return selector::Selector(not_node);
}

std::optional<selector::Selector> parse_effective(const std::string& text, const SourceLocation& where,
                                                  std::string_view what, std::vector<Diagnostic>& out) {
  auto parsed = selector::Selector::parse(text);
  if (parsed) return *parsed;
  Diagnostic d = make_diagnostic("RP3015", std::string(what) + " does not parse (\"" + text +
                                               "\"): it is treated as matching nothing",
                                 where);
  d.severity = Severity::kNote;
  out.push_back(std::move(d));
  return nothing();
}

void add_namespaces(Model& model) {
  std::set<std::string, std::less<>> known;
  for (auto& ns : model.namespaces) {
    ns.labels.insert_or_assign(std::string(kMetadataName), ns.name);
    known.insert(ns.name);
  }
  auto need = [&](const std::string& name) {
    if (name.empty() || known.contains(name)) return;
    known.insert(name);
    Namespace ns;
    ns.name = name;
    ns.labels.emplace(std::string(kMetadataName), name);
    ns.declared = false;
    model.namespaces.push_back(std::move(ns));
  };
  for (const auto& p : model.policies) need(p.ns);
  for (const auto& e : model.endpoints) need(e.ns);
  for (const auto& s : model.network_sets) need(s.ns);
  for (const auto& s : model.service_accounts) need(s.ns);
}

void add_tiers(Model& model) {
  struct Builtin {
    const char* name;
    double order;
    Action action;
  };
  static constexpr Builtin kBuiltins[] = {
      {"kube-admin", 1000.0, Action::kPass}, {"default", 1e6, Action::kDeny}, {"kube-baseline", 1e7, Action::kPass}};
  for (const auto& builtin : kBuiltins)
    if (!model.find_tier(builtin.name)) {
      Tier tier;
      tier.name = builtin.name;
      tier.order = builtin.order;
      tier.default_action = builtin.action;
      tier.declared = true;  // exists in every Calico cluster
      model.tiers.push_back(std::move(tier));
    }
  for (const auto& policy : model.policies)
    if (!model.find_tier(policy.tier)) {
      Tier tier;
      tier.name = policy.tier;
      tier.declared = false;
      tier.where = policy.where;
      model.tiers.push_back(std::move(tier));
    }
}

Labels profile_labels(const Labels& labels, std::string_view prefix, std::string_view name) {
  Labels out;
  for (const auto& [k, v] : labels) out.emplace(std::string(prefix) + k, v);
  out[std::string(prefix) + std::string(kNameLabel)] = std::string(name);
  return out;
}

// The effective labels of one endpoint (§1.6). `ns_profile(name)` gives the
// pcns.* labels of a namespace (nullptr: none), `sa_labels(ns, name)` a
// service account's labels (nullptr: none).
template <typename NsProfile, typename SaLabels>
Labels endpoint_labels(const Endpoint& ep, NsProfile&& ns_profile, SaLabels&& sa_labels) {
  Labels eff;
  for (const auto& [k, v] : ep.labels)
    if (ep.kind != EndpointKind::kPod || (!k.starts_with("pcns.") && !k.starts_with("pcsa.")))
      eff.emplace(k, v);
  if (ep.kind == EndpointKind::kPod) {
    eff[std::string(kNamespaceLabel)] = ep.ns;
    eff[std::string(kOrchestratorLabel)] = "k8s";
    if (!ep.service_account.empty()) eff[std::string(kServiceAccountLabel)] = ep.service_account;
    // Parent profiles kns.<ns> then ksa.<ns>.<sa>: own labels win.
    if (const Labels* profile = ns_profile(std::string_view(ep.ns)))
      for (const auto& [k, v] : *profile) eff.try_emplace(k, v);
    if (!ep.service_account.empty()) {
      const Labels* found = sa_labels(ep.ns, ep.service_account);
      const Labels sa = found ? *found : Labels{};
      for (const auto& [k, v] : profile_labels(sa, "pcsa.", ep.service_account)) eff.try_emplace(k, v);
    }
  } else {
    for (const auto& profile : ep.profiles)
      if (profile.starts_with("kns."))
        if (const Labels* labels = ns_profile(std::string_view(profile).substr(4)))
          for (const auto& [k, v] : *labels) eff.try_emplace(k, v);
  }
  return eff;
}

template <typename NsProfile>
Labels network_set_labels(const NetworkSet& set, NsProfile&& ns_profile) {
  Labels eff = set.labels;
  if (!set.ns.empty()) {
    eff[std::string(kNamespaceLabel)] = set.ns;
    if (const Labels* profile = ns_profile(std::string_view(set.ns)))
      for (const auto& [k, v] : *profile) eff.try_emplace(k, v);
  }
  return eff;
}

void policy_selectors(Policy& policy, std::vector<Diagnostic>& out);

// Per-object lookups against the model as it is (linear: few namespaces and
// service accounts, one object at a time).
struct ModelLookup {
  const Model& model;
  std::optional<Labels> profile;  // the last pcns.* labels computed
  const Labels* operator()(std::string_view ns) {
    const Namespace* found = model.find_namespace(ns);
    if (!found) return nullptr;
    profile = profile_labels(found->labels, "pcns.", found->name);
    return &*profile;
  }
};

const Labels* find_account(const Model& model, const std::string& ns, const std::string& name) {
  for (const auto& sa : model.service_accounts)
    if (sa.ns == ns && sa.name == name) return &sa.labels;
  return nullptr;
}

}  // namespace

std::string effective_policy_selector_text(const Policy& policy) {
  const bool global = policy.kind == PolicyKind::kGlobalNetworkPolicy ||
                      policy.kind == PolicyKind::kStagedGlobalNetworkPolicy;
  std::string s = policy.selector;
  if (!global) {
    s = s.empty() ? namespace_clause(policy.ns) : "(" + s + ") && " + namespace_clause(policy.ns);
    if (!policy.service_account_selector.empty())
      s = "(" + s + ") && " + prefixed(policy.service_account_selector, "pcsa.");
    return s;
  }
  if (!policy.namespace_selector.empty()) {
    const std::string ns = prefixed(policy.namespace_selector, "pcns.");
    s = s.empty() ? ns : "(" + s + ") && " + ns;
    replace_all(s, "all()", "has(" + std::string(kNamespaceLabel) + ")");
  }
  if (!policy.service_account_selector.empty()) {
    const std::string sa = prefixed(policy.service_account_selector, "pcsa.");
    s = s.empty() ? sa : "(" + s + ") && " + sa;
    replace_all(s, "all()", "has(" + std::string(kServiceAccountLabel) + ")");
  }
  return s;
}

std::string effective_entity_selector_text(const EntityRule& rule, const Policy& policy) {
  std::string ns_sel;
  if (!rule.namespace_selector.empty()) {
    ns_sel = prefixed(rule.namespace_selector, "pcns.");
    replace_all(ns_sel, "all()", "has(" + std::string(kNamespaceLabel) + ")");
    replace_all(ns_sel, "global()", "!has(" + std::string(kNamespaceLabel) + ")");
  } else if (!policy.ns.empty()) {
    ns_sel = namespace_clause(policy.ns);
  }
  std::string sa;
  if (rule.service_accounts) {
    std::string by_selector, by_name;
    if (!rule.service_accounts->selector.empty()) by_selector = prefixed(rule.service_accounts->selector, "pcsa.");
    if (!rule.service_accounts->names.empty()) {
      std::vector<std::string> names = rule.service_accounts->names;
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
      by_name = std::string(kServiceAccountLabel) + " in {";
      for (std::size_t i = 0; i < names.size(); ++i) by_name += (i ? ", " : "") + quote(names[i]);
      by_name += "}";
    }
    if (!by_selector.empty() && !by_name.empty()) sa = "(" + by_selector + ") && (" + by_name + ")";
    else sa = by_selector.empty() ? by_name : by_selector;
  }
  std::string endpoint;
  if (!sa.empty() && !rule.selector.empty()) endpoint = "(" + sa + ") && (" + rule.selector + ")";
  else endpoint = sa.empty() ? rule.selector : sa;
  if (!ns_sel.empty() && (!endpoint.empty() || !rule.not_selector.empty() || !rule.namespace_selector.empty()))
    return endpoint.empty() ? ns_sel : "(" + ns_sel + ") && (" + endpoint + ")";
  return endpoint;
}

std::vector<Diagnostic> normalize(Model& model) {
  std::vector<Diagnostic> out;
  add_namespaces(model);
  add_tiers(model);

  std::map<std::string, const Namespace*, std::less<>> namespaces;
  for (const auto& ns : model.namespaces) namespaces.emplace(ns.name, &ns);
  std::map<std::pair<std::string, std::string>, const ServiceAccount*> accounts;
  for (const auto& sa : model.service_accounts) accounts.emplace(std::make_pair(sa.ns, sa.name), &sa);
  std::map<std::string, Labels, std::less<>> ns_profiles;
  for (const auto& ns : model.namespaces) ns_profiles.emplace(ns.name, profile_labels(ns.labels, "pcns.", ns.name));

  auto ns_profile = [&](std::string_view name) -> const Labels* {
    const auto it = ns_profiles.find(name);
    return it == ns_profiles.end() ? nullptr : &it->second;
  };
  auto sa_labels = [&](const std::string& ns, const std::string& name) -> const Labels* {
    const auto it = accounts.find(std::make_pair(ns, name));
    return it == accounts.end() ? nullptr : &it->second->labels;
  };
  for (auto& ep : model.endpoints) ep.effective_labels = endpoint_labels(ep, ns_profile, sa_labels);
  for (auto& set : model.network_sets) set.effective_labels = network_set_labels(set, ns_profile);

  for (auto& policy : model.policies) policy_selectors(policy, out);
  return out;
}

namespace {

void policy_selectors(Policy& policy, std::vector<Diagnostic>& out) {
  policy.effective_selector =
      parse_effective(effective_policy_selector_text(policy), policy.where, "the policy's effective selector", out);
  for (auto* rules : {&policy.ingress, &policy.egress})
    for (auto& rule : *rules)
      for (auto* entity : {&rule.source, &rule.destination}) {
        const std::string text = effective_entity_selector_text(*entity, policy);
        entity->effective_selector.reset();
        if (!text.empty())
          entity->effective_selector = parse_effective(text, entity->where, "a rule's effective selector", out);
        entity->effective_not_selector.reset();
        if (!entity->not_selector.empty())
          entity->effective_not_selector =
              parse_effective(entity->not_selector, entity->where, "a rule's notSelector", out);
      }
}

}  // namespace

// The API server sets kubernetes.io/metadata.name to the namespace's name and
// overwrites a written value (NamespaceDefaultLabelName): a namespace cannot
// claim another's name to pass a namespaceSelector naming it.
void normalize_namespace(Namespace& ns) { ns.labels.insert_or_assign(std::string(kMetadataName), ns.name); }

void normalize_endpoint(Endpoint& endpoint, const Model& model) {
  ModelLookup lookup{model, std::nullopt};
  endpoint.effective_labels = endpoint_labels(
      endpoint, lookup, [&](const std::string& ns, const std::string& name) { return find_account(model, ns, name); });
}

void normalize_network_set(NetworkSet& set, const Model& model) {
  ModelLookup lookup{model, std::nullopt};
  set.effective_labels = network_set_labels(set, lookup);
}

std::vector<Diagnostic> normalize_policy(Policy& policy) {
  std::vector<Diagnostic> out;
  policy_selectors(policy, out);
  return out;
}

void add_implicit_namespaces(Model& model) { add_namespaces(model); }
void add_implicit_tiers(Model& model) { add_tiers(model); }

}  // namespace rampart::engine
