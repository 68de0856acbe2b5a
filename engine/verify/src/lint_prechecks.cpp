#include "lint_prechecks.h"

#include <algorithm>

#include "label_space.h"
#include "rampart/engine/selector_matcher.h"

namespace rampart::verify::detail::lint {

using engine::Model;
using engine::Policy;

void restrict(const selector::Node& n, Restriction& r) {
  auto narrow = [&](const std::string& key, std::set<std::string> values) {
    auto it = r.find(key);
    if (it == r.end()) {
      r.emplace(key, std::move(values));
      return;
    }
    std::set<std::string> both;
    std::set_intersection(it->second.begin(), it->second.end(), values.begin(), values.end(),
                          std::inserter(both, both.end()));
    it->second = std::move(both);
  };
  switch (n.op) {
    case selector::Op::kAnd:
      for (const auto& c : n.children) restrict(*c, r);
      break;
    case selector::Op::kEqual: narrow(n.key, {n.value}); break;
    case selector::Op::kIn: narrow(n.key, {n.values.begin(), n.values.end()}); break;
    default: break;
  }
}

bool compatible(const Restriction& a, const Restriction& b) {
  for (const auto& [key, values] : a) {
    const auto it = b.find(key);
    if (it == b.end()) continue;
    bool meet = false;
    for (const auto& v : values)
      if (it->second.contains(v)) { meet = true; break; }
    if (!meet) return false;
  }
  return true;
}

// A label map that a selector's top-level conjunction suggests (== and in
// values, has), or nothing when it contradicts itself. Only a candidate: the
// caller confirms it with the concrete matcher, so a wrong guess costs a
// solver query, never a wrong answer.
std::optional<Labels> candidate(const selector::Node& n, Labels labels) {
  switch (n.op) {
    case selector::Op::kAnd:
      for (const auto& child : n.children) {
        auto next = candidate(*child, std::move(labels));
        if (!next) return std::nullopt;
        labels = std::move(*next);
      }
      return labels;
    case selector::Op::kEqual: {
      const auto [it, added] = labels.emplace(n.key, n.value);
      if (!added && it->second != n.value) return std::nullopt;
      return labels;
    }
    case selector::Op::kIn:
      if (n.values.empty()) return std::nullopt;
      labels.emplace(n.key, n.values.front());
      return labels;
    case selector::Op::kHas:
      labels.emplace(n.key, "x");
      return labels;
    default: return labels;
  }
}

// Does some label map match? Decided concretely when the candidate matches.
bool surely_satisfiable(const selector::Selector& s) {
  const auto labels = candidate(s.root());
  return labels && engine::SelectorMatcher(s).matches(*labels);
}

// A pod (effective labels, calico-semantics §1.6) that `p` selects, built
// from its selector and completed the way the encoding's well-formedness
// requires; confirmed with the concrete matcher.
bool surely_selects_a_pod(const Model& model, const Policy& p) {
  if (!p.effective_selector) return true;
  auto labels = candidate(p.effective_selector->root());
  if (!labels) return false;
  auto& ns = (*labels)[std::string(kNamespaceKey)];
  if (ns.empty()) ns = "rampart-fresh-namespace";
  const std::string ns_name = ns;
  // A namespace of the inventory has exactly its labels; a fresh one any.
  const auto existing = std::find_if(model.namespaces.begin(), model.namespaces.end(),
                                     [&](const auto& n) { return n.name == ns_name; });
  if (existing != model.namespaces.end()) {
    for (auto it = labels->begin(); it != labels->end();)
      it = it->first.starts_with(kNsPrefix) ? labels->erase(it) : std::next(it);
    for (const auto& [k, v] : existing->labels) (*labels)[std::string(kNsPrefix) + k] = v;
  }
  for (auto it = labels->begin(); it != labels->end();)
    it = it->first.starts_with(kSaPrefix) ? labels->erase(it) : std::next(it);
  (*labels)[std::string(kNsNameKey)] = ns_name;
  (*labels)[std::string(kNsMetaNameKey)] = ns_name;
  (*labels)[std::string(kOrchestratorKey)] = "k8s";
  auto& sa = (*labels)[std::string(kServiceAccountKey)];
  if (sa.empty()) sa = "default";
  (*labels)[std::string(kSaNameKey)] = sa;
  return engine::SelectorMatcher(*p.effective_selector).matches(*labels);
}

}  // namespace rampart::verify::detail::lint
