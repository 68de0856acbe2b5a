// A deliberately simple reference for the decision procedure
// (calico-semantics.md §4.3–§4.5): one flow at a time, the selector tree
// evaluated directly, tiers and policies sorted here from scratch, nothing
// cached or precompiled. It shares no code with engine::Evaluator or
// engine::Reachability beyond the model types, so that agreement between them
// on many generated clusters means something.
//
// Scope: flows with a known source port are not needed (generated rules have
// no source ports and no services).
#pragma once

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "rampart/engine/flow.h"
#include "rampart/engine/model.h"

namespace rampart::reference {

using namespace rampart::engine;

inline bool selector_matches_labels(const selector::Selector& s, const Labels& labels) {
  return s.evaluate([&](std::string_view key) -> const std::string* {
    auto it = labels.find(key);
    return it == labels.end() ? nullptr : &it->second;
  });
}

inline bool address_matches(const Model& m, const selector::Selector& s, const FlowEnd& end) {
  if (end.endpoint && selector_matches_labels(s, end.endpoint->effective_labels)) return true;
  if (!end.ip) return false;
  for (const auto& ns : m.network_sets) {
    bool inside = false;
    for (const auto& c : ns.nets)
      if (c.contains(*end.ip)) inside = true;
    if (inside && selector_matches_labels(s, ns.effective_labels)) return true;
  }
  return false;
}

inline bool port_in(const std::vector<PortSpec>& specs, int port, int packet_proto, const Rule& rule,
                    const Endpoint* owner) {
  for (const auto& s : specs) {
    if (s.name.empty()) {
      if (port >= s.min && port <= s.max) return true;
    } else if (owner) {
      for (const auto& np : owner->ports)
        if (np.name == s.name && np.port == port && np.protocol == packet_proto &&
            (!rule.protocol || rule.protocol->number == np.protocol))
          return true;
    }
  }
  return false;
}

// false: the rule is not rendered for this family (a net list emptied).
inline bool side_matches(const Model& m, const EntityRule& e, const FlowEnd& end, std::optional<int> port,
                         const Flow& f, const Rule& rule, bool& rendered) {
  std::vector<Cidr> nets, not_nets;
  for (const auto& c : e.nets)
    if (c.address.family == f.ip_version) nets.push_back(c);
  for (const auto& c : e.not_nets)
    if (c.address.family == f.ip_version) not_nets.push_back(c);
  if ((!e.nets.empty() && nets.empty()) || (!e.not_nets.empty() && not_nets.empty())) {
    rendered = false;
    return false;
  }
  if (!nets.empty()) {
    if (!end.ip) return false;
    if (std::none_of(nets.begin(), nets.end(), [&](const Cidr& c) { return c.contains(*end.ip); })) return false;
  }
  if (end.ip && std::any_of(not_nets.begin(), not_nets.end(), [&](const Cidr& c) { return c.contains(*end.ip); }))
    return false;
  if (e.effective_selector && !address_matches(m, *e.effective_selector, end)) return false;
  if (e.effective_not_selector && address_matches(m, *e.effective_not_selector, end)) return false;
  if (!e.ports.empty() || !e.not_ports.empty()) {
    if (!port) return false;
    if (!e.ports.empty() && !port_in(e.ports, *port, f.protocol, rule, end.endpoint)) return false;
    if (!e.not_ports.empty() && port_in(e.not_ports, *port, f.protocol, rule, end.endpoint)) return false;
  }
  return true;
}

inline bool rule_matches(const Model& m, const Rule& r, const Flow& f) {
  int version = r.ip_version.value_or(0);
  if (!r.ip_version && r.protocol && r.protocol->written == "ICMP") version = 4;
  if (!r.ip_version && r.protocol && r.protocol->written == "ICMPv6") version = 6;
  if (version != 0 && version != f.ip_version) return false;
  if (r.protocol && r.protocol->number != f.protocol) return false;
  if (r.not_protocol && r.not_protocol->number == f.protocol) return false;
  const bool icmp = f.protocol == 1 || f.protocol == 58;
  auto icmp_eq = [&](const IcmpMatch& i) {
    if (!i.type) return true;
    if (f.icmp_type != i.type) return false;
    return !i.code || f.icmp_code == i.code;
  };
  if (r.icmp && (!icmp || !icmp_eq(*r.icmp))) return false;
  if (r.not_icmp && (!icmp || icmp_eq(*r.not_icmp))) return false;
  const bool ported = f.protocol == 6 || f.protocol == 17 || f.protocol == 132;
  bool rendered = true;
  if (!side_matches(m, r.source, f.src, f.src_port ? std::optional<int>(*f.src_port) : std::nullopt, f, r, rendered))
    return false;
  if (!side_matches(m, r.destination, f.dst, ported ? std::optional<int>(f.dst_port) : std::nullopt, f, r, rendered))
    return false;
  return rendered;
}

inline bool selects(const Policy& p, const Endpoint& e) {
  return p.effective_selector && selector_matches_labels(*p.effective_selector, e.effective_labels);
}

struct TierRef {
  std::string name;
  bool declared;
  double order;
  bool pass_default;
};

// The model's tiers in evaluation order (undeclared ones last, with Deny).
inline std::vector<TierRef> ordered_tiers(const Model& m) {
  std::vector<TierRef> tiers;
  auto find = [&](const std::string& n) {
    return std::find_if(tiers.begin(), tiers.end(), [&](const TierRef& t) { return t.name == n; });
  };
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& t : m.tiers)
    tiers.push_back({t.name, t.declared, t.order.value_or(inf), t.default_action == Action::kPass});
  for (const auto& p : m.policies)
    if (find(p.tier) == tiers.end()) tiers.push_back({p.tier, false, inf, false});
  std::sort(tiers.begin(), tiers.end(), [](const TierRef& a, const TierRef& b) {
    if (a.declared != b.declared) return a.declared;
    if (a.order != b.order) return a.order < b.order;
    return a.name < b.name;
  });
  return tiers;
}

// One endpoint, one direction: true = allowed.
inline bool direction_allows(const Model& m, const Endpoint& e, Direction d, const Flow& f) {
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& t : ordered_tiers(m)) {
    std::vector<const Policy*> pols;
    for (const auto& p : m.policies)
      if (p.tier == t.name && !p.staged() && selects(p, e) && p.governs(d)) pols.push_back(&p);
    if (pols.empty()) continue;
    std::sort(pols.begin(), pols.end(), [&](const Policy* a, const Policy* b) {
      const double oa = a->order.value_or(inf), ob = b->order.value_or(inf);
      if (oa != ob) return oa < ob;
      return a->name + "/" + a->ns + "/" + kind_name(a->kind) < b->name + "/" + b->ns + "/" + kind_name(b->kind);
    });
    bool pass = false;
    for (const Policy* p : pols) {
      bool decided = false;
      for (const auto& r : p->rules(d)) {
        if (!rule_matches(m, r, f)) continue;
        if (r.action == Action::kLog) continue;
        if (r.action == Action::kAllow) return true;
        if (r.action == Action::kDeny) return false;
        pass = true;  // Pass
        decided = true;
        break;
      }
      if (decided) break;
    }
    if (!pass && !t.pass_default) return false;
  }
  if (e.kind == EndpointKind::kPod) return true;
  return std::find(e.profiles.begin(), e.profiles.end(), "projectcalico-default-allow") != e.profiles.end();
}

// Whether no flow of the endpoint in that direction can reach the profile:
// some tier that governs it has a Deny default and no Pass rule in the
// policies that select it (a Pass-default tier alone does not isolate).
inline bool isolated(const Model& m, const Endpoint& e, Direction d) {
  for (const auto& t : ordered_tiers(m)) {
    bool governs = false, passes = t.pass_default;
    for (const auto& p : m.policies) {
      if (p.tier != t.name || p.staged() || !selects(p, e) || !p.governs(d)) continue;
      governs = true;
      for (const auto& r : p.rules(d)) passes = passes || r.action == Action::kPass;
    }
    if (governs && !passes) return true;
  }
  return false;
}

inline bool allowed(const Model& m, const Flow& f) {
  if (f.src.endpoint && !direction_allows(m, *f.src.endpoint, Direction::kEgress, f)) return false;
  if (f.dst.endpoint && !direction_allows(m, *f.dst.endpoint, Direction::kIngress, f)) return false;
  return true;
}

}  // namespace rampart::reference
