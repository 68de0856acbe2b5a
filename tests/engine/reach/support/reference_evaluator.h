// A deliberately simple reference for the decision procedure
// (calico-semantics.md §4.3–§4.5): one flow at a time, the selector tree
// evaluated directly, tiers and policies sorted here from scratch, nothing
// cached or precompiled. It shares no code with engine::Evaluator or
// engine::Reachability beyond the model types, so that agreement between them
// on many generated clusters means something.
//
// Scope: no services in generated rules; a source port the flow does not
// give is undetermined for TCP/UDP/SCTP (Unknown), absent for other protocols.
//
// An endpoint without an address: nets, notNets and a selector it could meet
// only through a network set are undetermined (Unknown); an Allow must hold
// for every address (an Unknown Allow does not match), an Unknown Deny
// denies, an Unknown Pass is followed both ways.
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

enum class T { kNo, kYes, kUnknown };

inline T and3(T a, T b) {
  if (a == T::kNo || b == T::kNo) return T::kNo;
  return a == T::kUnknown || b == T::kUnknown ? T::kUnknown : T::kYes;
}

inline T address_matches(const Model& m, const selector::Selector& s, const FlowEnd& end, int family) {
  if (end.endpoint && selector_matches_labels(s, end.endpoint->effective_labels)) return T::kYes;
  for (const auto& ns : m.network_sets) {
    bool inside = false, of_family = false;
    for (const auto& c : ns.nets) {
      if (end.ip && c.contains(*end.ip)) inside = true;
      const bool never = c.address.family == 4 && ((c.address.v4_value() >> 24) == 127 ||
                                                   ((c.address.v4_value() >> 16) == 0xa9fe && c.prefix >= 16));
      if (c.address.family == family && !never) of_family = true;  // a pod's address could be inside
    }
    if (!selector_matches_labels(s, ns.effective_labels)) continue;
    if (inside) return T::kYes;
    if (!end.ip && end.endpoint && of_family) return T::kUnknown;
  }
  return T::kNo;
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

// kNo with rendered = false: the rule is not rendered for this family (a net list emptied).
inline T side_matches(const Model& m, const EntityRule& e, const FlowEnd& end, std::optional<int> port,
                      const Flow& f, const Rule& rule, bool& rendered) {
  std::vector<Cidr> nets, not_nets;
  for (const auto& c : e.nets)
    if (c.address.family == f.ip_version) nets.push_back(c);
  for (const auto& c : e.not_nets)
    if (c.address.family == f.ip_version) not_nets.push_back(c);
  if ((!e.nets.empty() && nets.empty()) || (!e.not_nets.empty() && not_nets.empty())) {
    rendered = false;
    return T::kNo;
  }
  T result = T::kYes;
  if (!end.ip) {
    // Kubernetes never gives a pod a loopback or link-local address.
    auto possible = [](const std::vector<Cidr>& v) {
      return std::any_of(v.begin(), v.end(), [](const Cidr& c) {
        const auto a = c.address;
        if (a.family != 4) return true;
        const auto hi8 = a.v4_value() >> 24, hi16 = a.v4_value() >> 16;
        return !((hi8 == 127 && c.prefix >= 8) || (hi16 == 0xa9fe && c.prefix >= 16));
      });
    };
    if (!nets.empty() && !possible(nets)) return T::kNo;
    if (possible(nets) || possible(not_nets)) result = T::kUnknown;
  } else {
    if (!nets.empty() && std::none_of(nets.begin(), nets.end(), [&](const Cidr& c) { return c.contains(*end.ip); }))
      return T::kNo;
    if (std::any_of(not_nets.begin(), not_nets.end(), [&](const Cidr& c) { return c.contains(*end.ip); })) return T::kNo;
  }
  if (e.effective_selector) result = and3(result, address_matches(m, *e.effective_selector, end, f.ip_version));
  if (e.effective_not_selector) {
    const T hit = address_matches(m, *e.effective_not_selector, end, f.ip_version);
    result = and3(result, hit == T::kYes ? T::kNo : hit == T::kNo ? T::kYes : T::kUnknown);
  }
  if (result == T::kNo) return result;
  const bool ported = f.protocol == 6 || f.protocol == 17 || f.protocol == 132;
  if (!ported) {
    // No port: in no port list and no named-port set (§4.4: ports fail,
    // notPorts, "the negation of each", hold).
    if (!e.ports.empty()) return T::kNo;
  } else if (!e.ports.empty() || !e.not_ports.empty()) {
    if (!port) return and3(result, T::kUnknown);  // a source port the flow does not give
    if (!e.ports.empty() && !port_in(e.ports, *port, f.protocol, rule, end.endpoint)) return T::kNo;
    if (!e.not_ports.empty() && port_in(e.not_ports, *port, f.protocol, rule, end.endpoint)) return T::kNo;
  }
  return result;
}

inline T rule_matches(const Model& m, const Rule& r, const Flow& f) {
  int version = r.ip_version.value_or(0);
  if (!r.ip_version && r.protocol && r.protocol->written == "ICMP") version = 4;
  if (!r.ip_version && r.protocol && r.protocol->written == "ICMPv6") version = 6;
  if (version != 0 && version != f.ip_version) return T::kNo;
  if (r.protocol && r.protocol->number != f.protocol) return T::kNo;
  if (r.not_protocol && r.not_protocol->number == f.protocol) return T::kNo;
  const bool icmp = f.protocol == 1 || f.protocol == 58;
  auto icmp_eq = [&](const IcmpMatch& i) {
    if (!i.type) return true;
    if (f.icmp_type != i.type) return false;
    return !i.code || f.icmp_code == i.code;
  };
  if (r.icmp && (!icmp || !icmp_eq(*r.icmp))) return T::kNo;
  if (r.not_icmp && (!icmp || icmp_eq(*r.not_icmp))) return T::kNo;
  const bool ported = f.protocol == 6 || f.protocol == 17 || f.protocol == 132;
  bool rendered = true;
  const T src = side_matches(m, r.source, f.src, f.src_port ? std::optional<int>(*f.src_port) : std::nullopt, f, r, rendered);
  if (src == T::kNo) return T::kNo;
  const T dst = side_matches(m, r.destination, f.dst, ported ? std::optional<int>(f.dst_port) : std::nullopt, f, r, rendered);
  if (!rendered) return T::kNo;
  return and3(src, dst);
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

// One endpoint, one direction, from tier t0 (its policy p0, rule r0): true = allowed.
inline bool allows_from(const Model& m, const Endpoint& e, Direction d, const Flow& f, std::size_t t0, std::size_t p0,
                        std::size_t r0) {
  const double inf = std::numeric_limits<double>::infinity();
  const auto tiers = ordered_tiers(m);
  for (std::size_t ti = t0; ti < tiers.size(); ++ti) {
    const auto& t = tiers[ti];
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
    for (std::size_t pi = ti == t0 ? p0 : 0; pi < pols.size(); ++pi) {
      bool decided = false;
      const auto& rules = pols[pi]->rules(d);
      for (std::size_t ri = ti == t0 && pi == p0 ? r0 : 0; ri < rules.size(); ++ri) {
        const auto& r = rules[ri];
        const T match = rule_matches(m, r, f);
        if (match == T::kNo || r.action == Action::kLog) continue;
        if (match == T::kUnknown) {
          if (r.action == Action::kAllow) continue;
          if (r.action == Action::kDeny) return false;
          // Pass, undetermined: allowed only if allowed both when taken and when not.
          return allows_from(m, e, d, f, ti + 1, 0, 0) && allows_from(m, e, d, f, ti, pi, ri + 1);
        }
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

inline bool direction_allows(const Model& m, const Endpoint& e, Direction d, const Flow& f) {
  return allows_from(m, e, d, f, 0, 0, 0);
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
