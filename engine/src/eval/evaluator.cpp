#include "rampart/engine/evaluator.h"

#include <algorithm>
#include <sstream>
#include <unordered_map>

namespace rampart::engine {

namespace {

// Three-valued criterion result (see the header: undetermined criteria).
enum class Tri { kNo, kYes, kUnknown };

Tri both(Tri a, Tri b) {
  if (a == Tri::kNo || b == Tri::kNo) return Tri::kNo;
  if (a == Tri::kUnknown || b == Tri::kUnknown) return Tri::kUnknown;
  return Tri::kYes;
}

// The CIDRs of one family; nullopt when a non-empty list empties (the rule is
// then not rendered for that family, §4.4).
std::optional<std::vector<Cidr>> family_cidrs(const std::vector<Cidr>& cidrs, int family) {
  std::vector<Cidr> out;
  for (const auto& c : cidrs)
    if (c.address.family == family) out.push_back(c);
  if (!cidrs.empty() && out.empty()) return std::nullopt;
  return out;
}

}  // namespace

std::optional<int> implied_ip_version(const Rule& rule) {
  if (rule.ip_version) return rule.ip_version;
  if (rule.protocol) {
    if (rule.protocol->written == "ICMP") return 4;
    if (rule.protocol->written == "ICMPv6") return 6;
  }
  return std::nullopt;
}

FlowEnd FlowEnd::of(const Endpoint& e, int ip_version) {
  FlowEnd end;
  end.endpoint = &e;
  for (const auto& ip : e.ips)
    if (ip.family == ip_version) {
      end.ip = ip;
      break;
    }
  return end;
}

const char* action_name(Action action) {
  switch (action) {
    case Action::kAllow: return "Allow";
    case Action::kDeny: return "Deny";
    case Action::kPass: return "Pass";
    case Action::kLog: return "Log";
  }
  return "?";
}

struct Evaluator::Impl {
  const Model& model;
  // Keyed by the selector object (the model outlives the evaluator and is
  // not modified), so a lookup hashes a pointer, not the selector text.
  mutable std::unordered_map<const selector::Selector*, std::unique_ptr<SelectorMatcher>> matchers;

  explicit Impl(const Model& m) : model(m) {}

  const SelectorMatcher& matcher(const selector::Selector& s) const {
    auto& slot = matchers[&s];
    if (!slot) slot = std::make_unique<SelectorMatcher>(s);
    return *slot;
  }

  // A selector matches an address when it belongs to a matching endpoint or
  // to a matching (Global)NetworkSet (§4.4). An endpoint without an address
  // (of the flow's family) that its labels do not match is Unknown when some
  // matching set of that family could contain the address.
  Tri selector_matches(const selector::Selector& s, const FlowEnd& end, int family) const {
    const auto& m = matcher(s);
    if (end.endpoint && m.matches(end.endpoint->effective_labels)) return Tri::kYes;
    if (!end.ip) {
      if (!end.endpoint) return Tri::kNo;
      for (const auto& set : model.network_sets)
        for (const auto& net : set.nets)
          if (net.address.family == family && !never_a_pod_address(net)) {
            if (m.matches(set.effective_labels)) return Tri::kUnknown;
            break;
          }
      return Tri::kNo;
    }
    for (const auto& set : model.network_sets) {
      bool inside = false;
      for (const auto& net : set.nets)
        if (net.address.family == end.ip->family && net.contains(*end.ip)) {
          inside = true;
          break;
        }
      if (inside && m.matches(set.effective_labels)) return Tri::kYes;
    }
    return Tri::kNo;
  }

  // Port criteria of one side: `port` is the packet's port on that side
  // (nullopt: unknown), `owner` the endpoint whose named ports apply.
  static Tri port_matches(const std::vector<PortSpec>& specs, const std::optional<std::uint16_t>& port,
                          std::uint8_t packet_protocol, const std::optional<Protocol>& rule_protocol,
                          const Endpoint* owner) {
    if (!port) return Tri::kUnknown;
    for (const auto& spec : specs) {
      if (!spec.is_named()) {
        if (*port >= spec.min && *port <= spec.max) return Tri::kYes;
        continue;
      }
      if (!owner) continue;
      for (const auto& np : owner->ports) {
        if (np.name != spec.name || np.port != *port || np.protocol != packet_protocol) continue;
        if (rule_protocol && rule_protocol->number != np.protocol) continue;
        return Tri::kYes;
      }
    }
    return Tri::kNo;
  }

  Tri entity_matches(const EntityRule& er, const FlowEnd& end, const std::optional<std::uint16_t>& port,
                     const Flow& flow, const Rule& rule) const {
    auto nets = family_cidrs(er.nets, flow.ip_version);
    auto not_nets = family_cidrs(er.not_nets, flow.ip_version);
    if (!nets || !not_nets) return Tri::kNo;
    // An endpoint without an address: its address is unknown, so are nets
    // and notNets (an "allowed" must hold for every address it may get).
    Tri result = Tri::kYes;
    if (!end.ip && end.endpoint) {
      const auto possible = [](const std::vector<Cidr>& v) {
        return std::any_of(v.begin(), v.end(), [](const Cidr& c) { return !never_a_pod_address(c); });
      };
      if (!nets->empty() && !possible(*nets)) return Tri::kNo;
      if (possible(*nets) || possible(*not_nets)) result = Tri::kUnknown;
    }
    if (!nets->empty() && !end.ip && !end.endpoint) return Tri::kNo;
    if (!nets->empty() && end.ip) {
      bool in = false;
      for (const auto& c : *nets) in = in || c.contains(*end.ip);
      if (!in) return Tri::kNo;
    }
    if (end.ip)
      for (const auto& c : *not_nets)
        if (c.contains(*end.ip)) return Tri::kNo;
    if (er.effective_selector) result = both(result, selector_matches(*er.effective_selector, end, flow.ip_version));
    if (result == Tri::kNo) return result;
    if (er.effective_not_selector) {
      const Tri hit = selector_matches(*er.effective_not_selector, end, flow.ip_version);
      result = both(result, hit == Tri::kYes ? Tri::kNo : hit == Tri::kNo ? Tri::kYes : Tri::kUnknown);
    }
    if (result == Tri::kNo) return result;
    if (!protocol_has_ports_number(flow.protocol)) {
      // A packet without ports (ICMP, ...) is in no port list and no
      // named-port set (those hold TCP/UDP/SCTP only): `ports` never
      // matches it, `notPorts` always does (calico-semantics §4.4).
      if (!er.ports.empty()) return Tri::kNo;
    } else if (!er.ports.empty() || !er.not_ports.empty()) {
      if (!er.ports.empty()) result = both(result, port_matches(er.ports, port, flow.protocol, rule.protocol, end.endpoint));
      if (!er.not_ports.empty()) {
        const Tri hit = port_matches(er.not_ports, port, flow.protocol, rule.protocol, end.endpoint);
        result = both(result, hit == Tri::kYes ? Tri::kNo : hit == Tri::kNo ? Tri::kYes : Tri::kUnknown);
      }
    }
    if (er.services) result = both(result, Tri::kUnknown);
    return result;
  }

  static bool protocol_has_ports_number(std::uint8_t p) {
    return p == proto::kTcp || p == proto::kUdp || p == proto::kSctp;
  }

  static Tri icmp_matches(const IcmpMatch& m, const Flow& flow) {
    if (!m.type) return Tri::kYes;
    if (!flow.icmp_type) return Tri::kUnknown;
    if (*flow.icmp_type != *m.type) return Tri::kNo;
    if (!m.code) return Tri::kYes;
    if (!flow.icmp_code) return Tri::kUnknown;
    return *flow.icmp_code == *m.code ? Tri::kYes : Tri::kNo;
  }

  Tri rule_matches(const Rule& rule, const Flow& flow) const {
    if (auto v = implied_ip_version(rule); v && *v != flow.ip_version) return Tri::kNo;
    if (rule.protocol && rule.protocol->number != flow.protocol) return Tri::kNo;
    if (rule.not_protocol && rule.not_protocol->number == flow.protocol) return Tri::kNo;
    Tri result = Tri::kYes;
    const bool icmp_packet = flow.protocol == proto::kIcmp || flow.protocol == proto::kIcmpV6;
    if (rule.icmp) {
      if (!icmp_packet) return Tri::kNo;
      result = both(result, icmp_matches(*rule.icmp, flow));
    }
    if (rule.not_icmp) {
      if (!icmp_packet) return Tri::kNo;
      const Tri hit = icmp_matches(*rule.not_icmp, flow);
      result = both(result, hit == Tri::kYes ? Tri::kNo : hit == Tri::kNo ? Tri::kYes : Tri::kUnknown);
    }
    if (result == Tri::kNo) return result;
    result = both(result, entity_matches(rule.source, flow.src, flow.src_port, flow, rule));
    if (result == Tri::kNo) return result;
    const std::optional<std::uint16_t> dst_port =
        protocol_has_ports_number(flow.protocol) ? std::optional<std::uint16_t>(flow.dst_port) : std::nullopt;
    return both(result, entity_matches(rule.destination, flow.dst, dst_port, flow, rule));
  }

  static bool decides(Tri t, Action a) {
    if (t == Tri::kYes) return true;
    if (t == Tri::kNo) return false;
    return a == Action::kDeny || a == Action::kLog;
  }
};

Evaluator::Evaluator(const Model& model)
    : model_(model), tiers_(order_policies(model)), impl_(std::make_unique<Impl>(model)) {}

Evaluator::~Evaluator() = default;

bool Evaluator::selects(const Policy& policy, const Endpoint& endpoint) const {
  if (!policy.effective_selector) return false;
  if (endpoint.kind == EndpointKind::kPod && !policy.applies_to_workloads()) return false;
  return impl_->matcher(*policy.effective_selector).matches(endpoint.effective_labels);
}

namespace {

std::string rule_label(const Policy& p, Direction d, int index) {
  std::ostringstream out;
  out << kind_name(p.kind) << " " << p.qualified_name() << " " << (d == Direction::kIngress ? "ingress" : "egress")
      << " rule #" << (index + 1);
  return out.str();
}

}  // namespace

DirectionResult Evaluator::evaluate_direction(const Endpoint& endpoint, Direction direction,
                                              const Flow& flow) const {
  return walk(endpoint, direction, flow, 0);
}

DirectionResult Evaluator::walk(const Endpoint& endpoint, Direction direction, const Flow& flow,
                                std::size_t first_tier) const {
  DirectionResult result;
  result.direction = direction;
  result.endpoint = &endpoint;
  for (std::size_t t = first_tier; t < tiers_.size(); ++t) {
    const OrderedTier& tier = tiers_[t];
    bool applicable_here = false;
    std::vector<const Policy*> pols;
    for (const Policy* p : tier.policies) {
      if (!selects(*p, endpoint)) continue;
      if (p->governs(direction)) {
        pols.push_back(p);
        applicable_here = true;
      }
    }
    if (!applicable_here) continue;  // the tier is invisible in this direction
    TierStep step;
    step.tier = tier.name;
    bool passed = false;
    for (const Policy* p : pols) {
      PolicyStep ps;
      ps.policy = p;
      const auto& rules = p->rules(direction);
      for (int i = 0; i < static_cast<int>(rules.size()); ++i) {
        const Rule& rule = rules[static_cast<std::size_t>(i)];
        const Tri match = impl_->rule_matches(rule, flow);
        if (match == Tri::kUnknown && rule.action == Action::kPass) {
          // Passes for some values of the unknown, not for others: "allowed"
          // must hold both ways. Taken, the next tiers decide; denied there,
          // the flow is denied (for those values). Not taken, walk on.
          DirectionResult taken = walk(endpoint, direction, flow, t + 1);
          if (taken.allowed) continue;
          PolicyStep pass_step = ps;
          pass_step.rule_index = i;
          pass_step.action = Action::kPass;
          step.policies.push_back(pass_step);
          step.outcome = TierOutcome::kPass;
          result.tiers.push_back(std::move(step));
          for (auto& later : taken.tiers) result.tiers.push_back(std::move(later));
          result.allowed = false;
          result.decided_by = taken.decided_by + ", for the values of the undetermined criterion where " +
                              rule_label(*p, direction, i) + " (Pass) matches";
          result.where = taken.where;
          return result;
        }
        if (!Impl::decides(match, rule.action)) continue;
        if (rule.action == Action::kLog) {
          ps.logged_rules.push_back(i);
          continue;
        }
        ps.rule_index = i;
        ps.action = rule.action;
        break;
      }
      step.policies.push_back(ps);
      if (ps.rule_index < 0) continue;
      const Rule& rule = rules[static_cast<std::size_t>(ps.rule_index)];
      if (ps.action == Action::kPass) {
        passed = true;
        step.outcome = TierOutcome::kPass;
        break;
      }
      step.outcome = ps.action == Action::kAllow ? TierOutcome::kAllow : TierOutcome::kDeny;
      result.allowed = ps.action == Action::kAllow;
      result.decided_by = rule_label(*p, direction, ps.rule_index) + " (" + action_name(ps.action) + ")";
      result.where = rule.where;
      result.tiers.push_back(std::move(step));
      return result;
    }
    if (!passed) {
      if (tier.default_action != Action::kPass) {
        step.outcome = TierOutcome::kEndOfTierDrop;
        result.allowed = false;
        result.decided_by = "end of tier " + tier.name + ": no rule matched (default action Deny)";
        result.where = tier.tier ? tier.tier->where : SourceLocation{};
        result.tiers.push_back(std::move(step));
        return result;
      }
      step.outcome = TierOutcome::kEndOfTierPass;
    }
    result.tiers.push_back(std::move(step));
  }
  if (endpoint.kind == EndpointKind::kPod) {
    result.allowed = true;
    result.decided_by = result.tiers.empty()
                            ? "no policy selects it: allowed by the namespace profile (Kubernetes default)"
                            : "passed every tier: allowed by the namespace profile kns." + endpoint.ns;
  } else {
    bool allow = false;
    for (const auto& profile : endpoint.profiles) allow = allow || profile == "projectcalico-default-allow";
    result.allowed = allow;
    result.decided_by = allow ? "profile projectcalico-default-allow" : "host endpoint: no policy or profile allowed it";
  }
  return result;
}

Decision Evaluator::evaluate(const Flow& flow) const {
  Decision d;
  d.egress.direction = Direction::kEgress;
  d.ingress.direction = Direction::kIngress;
  if (flow.src.endpoint) d.egress = evaluate_direction(*flow.src.endpoint, Direction::kEgress, flow);
  else d.egress.decided_by = "the source is outside the cluster: not policed";
  if (flow.dst.endpoint) d.ingress = evaluate_direction(*flow.dst.endpoint, Direction::kIngress, flow);
  else d.ingress.decided_by = "the destination is outside the cluster: not policed";
  d.allowed = d.egress.allowed && d.ingress.allowed;
  return d;
}

std::string describe(const DirectionResult& r) {
  std::ostringstream out;
  const char* dir = r.direction == Direction::kIngress ? "ingress" : "egress";
  if (!r.endpoint) {
    out << dir << ": " << r.decided_by << "\n";
    return out.str();
  }
  out << dir << " of " << (r.endpoint->ns.empty() ? "" : r.endpoint->ns + "/") << r.endpoint->name << ": "
      << (r.allowed ? "ALLOWED" : "DENIED") << "\n";
  for (const auto& tier : r.tiers) {
    out << "  tier " << tier.tier << "\n";
    for (const auto& ps : tier.policies) {
      out << "    " << kind_name(ps.policy->kind) << " " << ps.policy->qualified_name();
      if (ps.policy->order) out << " (order " << *ps.policy->order << ")";
      for (int logged : ps.logged_rules) out << "; rule #" << logged + 1 << " Log";
      if (ps.rule_index >= 0) {
        const auto& rule = ps.policy->rules(r.direction)[static_cast<std::size_t>(ps.rule_index)];
        out << ": rule #" << ps.rule_index + 1 << " " << action_name(ps.action);
        if (rule.where.known()) out << " at " << rule.where.str();
      } else {
        out << ": no rule matched";
      }
      out << "\n";
    }
    switch (tier.outcome) {
      case TierOutcome::kEndOfTierDrop: out << "    end of tier: drop (default action Deny)\n"; break;
      case TierOutcome::kEndOfTierPass: out << "    end of tier: default action Pass, next tier\n"; break;
      case TierOutcome::kPass: out << "    Pass: next tier\n"; break;
      default: break;
    }
  }
  out << "  decided by: " << r.decided_by;
  if (r.where.known()) out << " at " << r.where.str();
  out << "\n";
  return out.str();
}

}  // namespace rampart::engine
