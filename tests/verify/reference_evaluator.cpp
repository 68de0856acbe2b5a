#include <algorithm>
#include <limits>
#include <map>

#include "reference.h"
#include "rampart/engine/selector_matcher.h"

namespace rampart::verify::test {

using engine::Action;
using engine::Direction;

namespace {

bool has_ports(std::uint8_t p) { return p == 6 || p == 17 || p == 132; }

bool selector_at(const engine::Model& model, const selector::Selector& sel, const EndpointWitness& ep) {
  const engine::SelectorMatcher m(sel);
  if (!ep.external && m.matches(ep.effective_labels)) return true;
  for (const auto& set : model.network_sets)
    if (m.matches(set.effective_labels))
      for (const auto& c : set.nets)
        if (c.contains(ep.ip)) return true;
  return false;
}

bool port_match(const engine::PortSpec& spec, const engine::EntityRule& er, const engine::Rule& rule,
                const EndpointWitness& ep, std::uint16_t port, const PacketWitness& pkt) {
  if (!spec.is_named()) return has_ports(pkt.protocol) && port >= spec.min && port <= spec.max;
  if (ep.external) return false;
  if (er.effective_selector && !engine::SelectorMatcher(*er.effective_selector).matches(ep.effective_labels))
    return false;
  for (const auto& np : ep.ports) {
    if (np.name != spec.name) continue;
    if (rule.protocol && rule.protocol->number != np.protocol) continue;
    if (np.protocol == pkt.protocol && np.port == port) return true;
  }
  return false;
}

bool entity_match(const engine::Model& model, const engine::EntityRule& er, const engine::Rule& rule,
                  const EndpointWitness& ep, std::uint16_t port, const PacketWitness& pkt) {
  if (!er.nets.empty()) {
    bool any = false;
    for (const auto& c : er.nets) any = any || c.contains(ep.ip);
    if (!any) return false;
  }
  if (!er.not_nets.empty()) {
    bool same_family = false;
    for (const auto& c : er.not_nets) {
      if (c.address.family == pkt.family) same_family = true;
      if (c.contains(ep.ip)) return false;
    }
    if (!same_family) return false;
  }
  if (er.effective_selector && !selector_at(model, *er.effective_selector, ep)) return false;
  if (er.effective_not_selector && selector_at(model, *er.effective_not_selector, ep)) return false;
  if (!er.ports.empty()) {
    bool any = false;
    for (const auto& s : er.ports) any = any || port_match(s, er, rule, ep, port, pkt);
    if (!any) return false;
  }
  for (const auto& s : er.not_ports)
    if (port_match(s, er, rule, ep, port, pkt)) return false;
  return true;
}

bool rule_match(const engine::Model& model, const engine::Rule& r, const EndpointWitness& src,
                const EndpointWitness& dst, const PacketWitness& pkt) {
  int version = r.ip_version.value_or(0);
  if (!r.ip_version && r.protocol && r.protocol->written == "ICMP") version = 4;
  if (!r.ip_version && r.protocol && r.protocol->written == "ICMPv6") version = 6;
  if (version != 0 && version != pkt.family) return false;
  if (r.protocol && r.protocol->number != pkt.protocol) return false;
  if (r.not_protocol && r.not_protocol->number == pkt.protocol) return false;
  const auto icmp_eq = [&](const engine::IcmpMatch& m) {
    if (pkt.protocol != 1 && pkt.protocol != 58) return false;
    if (m.type && pkt.icmp_type.value_or(0) != *m.type) return false;
    if (m.code && pkt.icmp_code.value_or(0) != *m.code) return false;
    return true;
  };
  if (r.icmp && !icmp_eq(*r.icmp)) return false;
  // notICMP matches only ICMP packets (as the evaluator and nft read it).
  if (r.not_icmp && (icmp_eq(*r.not_icmp) || (pkt.protocol != 1 && pkt.protocol != 58))) return false;
  return entity_match(model, r.source, r, src, pkt.src_port, pkt) &&
         entity_match(model, r.destination, r, dst, pkt.dst_port, pkt);
}

struct TierRank {
  bool declared;
  double order;
  std::string name;
  bool pass;
};

TierRank rank(const engine::Model& model, const std::string& name) {
  const double inf = std::numeric_limits<double>::infinity();
  if (const auto* t = model.find_tier(name)) return {t->declared, t->order.value_or(inf), name, t->default_action == Action::kPass};
  if (name == "default") return {true, 1e6, name, false};
  return {false, inf, name, false};
}

}  // namespace

bool reference_direction(const engine::Model& model, Direction d, const EndpointWitness& src,
                         const EndpointWitness& dst, const PacketWitness& pkt, std::vector<std::string>* trace) {
  const EndpointWitness& self = d == Direction::kIngress ? dst : src;
  const double inf = std::numeric_limits<double>::infinity();
  std::map<std::string, std::vector<const engine::Policy*>> tiers;
  for (const auto& p : model.policies) {
    if (p.staged() || !p.governs(d)) continue;
    if (p.effective_selector && !engine::SelectorMatcher(*p.effective_selector).matches(self.effective_labels)) continue;
    tiers[p.tier].push_back(&p);
  }
  std::vector<TierRank> order;
  for (const auto& [name, _] : tiers) order.push_back(rank(model, name));
  std::sort(order.begin(), order.end(), [](const TierRank& a, const TierRank& b) {
    if (a.declared != b.declared) return a.declared;
    if (a.order != b.order) return a.order < b.order;
    return a.name < b.name;
  });
  for (const auto& t : order) {
    auto& pols = tiers[t.name];
    std::sort(pols.begin(), pols.end(), [&](const engine::Policy* a, const engine::Policy* b) {
      const double oa = a->order.value_or(inf), ob = b->order.value_or(inf);
      if (oa != ob) return oa < ob;
      return a->name + "/" + a->ns + "/" + engine::kind_name(a->kind) <
             b->name + "/" + b->ns + "/" + engine::kind_name(b->kind);
    });
    bool passed = false;
    for (const auto* p : pols) {
      bool stop = false;
      const auto& rules = p->rules(d);
      for (std::size_t i = 0; i < rules.size(); ++i) {
        if (!rule_match(model, rules[i], src, dst, pkt)) continue;
        if (trace) trace->push_back(p->qualified_name() + "#" + std::to_string(i));
        switch (rules[i].action) {
          case Action::kLog: continue;
          case Action::kAllow: return true;
          case Action::kDeny: return false;
          case Action::kPass: passed = true; stop = true; break;
        }
        if (stop) break;
      }
      if (stop) break;
    }
    if (passed) continue;
    if (!t.pass) {
      if (trace) trace->push_back("end of tier " + t.name);
      return false;
    }
  }
  return true;
}

bool reference_allowed(const engine::Model& model, const EndpointWitness& src, const EndpointWitness& dst,
                       const PacketWitness& pkt, std::vector<std::string>* trace) {
  if (!src.external && !reference_direction(model, Direction::kEgress, src, dst, pkt, trace)) return false;
  if (!dst.external && !reference_direction(model, Direction::kIngress, src, dst, pkt, trace)) return false;
  return true;
}

}  // namespace rampart::verify::test
