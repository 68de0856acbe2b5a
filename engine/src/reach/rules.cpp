// Interning of selectors, net predicates and named-port lists, and the
// compilation of policy rules into per-direction rule tables (the first
// stage of the class engine; see reach_impl.h).
#include <algorithm>

#include "rampart/engine/evaluator.h"  // implied_ip_version
#include "reach_impl.h"

namespace rampart::engine {

using namespace reach_detail;

IntervalSet reach_detail::cidr_interval(const Cidr& c) {
  const std::uint32_t base = c.address.v4_value();
  const std::uint32_t size_minus_1 = c.prefix == 0 ? UINT32_MAX : (std::uint32_t{1} << (32 - c.prefix)) - 1;
  return IntervalSet::range(base, base + size_minus_1);
}

namespace {

void collect_keys(const selector::Node& n, std::set<std::string, std::less<>>& keys) {
  if (n.is_label_op()) keys.insert(n.key);
  for (const auto& c : n.children) collect_keys(*c, keys);
}

std::optional<std::string> required_namespace(const selector::Node& n) {
  auto eq = [](const selector::Node& x) -> std::optional<std::string> {
    if (x.op == selector::Op::kEqual && x.key == "projectcalico.org/namespace") return x.value;
    return std::nullopt;
  };
  if (auto v = eq(n)) return v;
  if (n.op == selector::Op::kAnd)
    for (const auto& c : n.children)
      if (auto v = required_namespace(*c)) return v;
  return std::nullopt;
}

void compile_ports(const std::vector<PortSpec>& specs, IntervalSet& numeric, std::vector<std::string>& named) {
  for (const auto& s : specs) {
    if (s.is_named()) named.push_back(s.name);
    else numeric.add(s.min, s.max);
  }
}


}  // namespace

int Reachability::Impl::intern_selector(const std::optional<selector::Selector>& s) {
  if (!s) return -1;
  auto [it, inserted] = selector_index.try_emplace(s->canonical(), static_cast<int>(selectors.size()));
  if (inserted) {
    const auto id = static_cast<std::uint32_t>(selectors.size());
    selectors.push_back(std::make_unique<SelectorMatcher>(*s));
    collect_keys(s->root(), referenced_keys);
    if (auto ns = required_namespace(s->root())) by_namespace[*ns].push_back(id);
    else unscoped.push_back(id);
  }
  return it->second;
}

std::optional<int> Reachability::Impl::intern_net(const EntityRule& er) {
  NetPredicate p;
  for (const auto& c : er.nets)
    if (c.address.family == options.ip_version) p.nets.push_back(c);
  for (const auto& c : er.not_nets)
    if (c.address.family == options.ip_version) p.not_nets.push_back(c);
  if ((!er.nets.empty() && p.nets.empty()) || (!er.not_nets.empty() && p.not_nets.empty())) return std::nullopt;
  if (p.nets.empty() && p.not_nets.empty()) return -1;
  std::sort(p.nets.begin(), p.nets.end());
  std::sort(p.not_nets.begin(), p.not_nets.end());
  std::string key;
  for (const auto& c : p.nets) key += c.str() + ",";
  key += "!";
  for (const auto& c : p.not_nets) key += c.str() + ",";
  auto [it, inserted] = net_index.try_emplace(key, static_cast<int>(nets.size()));
  if (inserted) {
    const auto possible = [](const std::vector<Cidr>& v) {
      return std::any_of(v.begin(), v.end(), [](const Cidr& c) { return !never_a_pod_address(c); });
    };
    if (!p.nets.empty() && !possible(p.nets)) p.addressless = Holds::kNo;
    else if (possible(p.nets) || possible(p.not_nets)) p.addressless = Holds::kUnknown;
    else p.addressless = Holds::kYes;
    if (options.ip_version == 4) {
      IntervalSet in;
      if (p.nets.empty()) in = IntervalSet::range(0, UINT32_MAX);
      for (const auto& c : p.nets) in = in.unite(cidr_interval(c));
      for (const auto& c : p.not_nets) in = in.subtract(cidr_interval(c));
      p.v4 = in;
    }
    nets.push_back(std::move(p));
  }
  return it->second;
}

std::uint32_t Reachability::Impl::intern_ports(std::vector<NamedPort> ports) {
  std::sort(ports.begin(), ports.end(), [](const NamedPort& a, const NamedPort& b) {
    return std::tie(a.name, a.protocol, a.port) < std::tie(b.name, b.protocol, b.port);
  });
  std::string key;
  for (const auto& p : ports) key += p.name + "/" + std::to_string(p.protocol) + "/" + std::to_string(p.port) + ";";
  auto [it, inserted] = port_index.try_emplace(key, static_cast<std::uint32_t>(port_lists.size()));
  if (inserted) port_lists.push_back(std::move(ports));
  return it->second;
}

std::optional<CompiledEntity> Reachability::Impl::compile_entity(const EntityRule& er) {
  CompiledEntity e;
  e.selector = intern_selector(er.effective_selector);
  e.not_selector = intern_selector(er.effective_not_selector);
  auto net = intern_net(er);
  if (!net) return std::nullopt;
  e.net = *net;
  e.has_ports = !er.ports.empty() || !er.not_ports.empty();
  compile_ports(er.ports, e.ports, e.named_ports);
  compile_ports(er.not_ports, e.not_ports, e.named_not_ports);
  return e;
}

// A packet without ports (ICMP, ...) is in no port list and no named-port
// set (those hold TCP/UDP/SCTP only): `ports` never matches it, `notPorts`
// always does (calico-semantics §4.4).
ConnectionSet reach_detail::port_protocols() { return ConnectionSet::all().restrict_ports(IntervalSet::range(1, 65535)); }

// One rule becomes one compiled rule, or two with disjoint connection sets
// (in order) when a source notPorts decides packets without ports but leaves
// TCP/UDP/SCTP undetermined (the source port is not modelled).
std::vector<CompiledRule> Reachability::Impl::compile_rule(const Rule& rule) {
  CompiledRule cr;
  cr.action = rule.action;
  if (auto v = implied_ip_version(rule); v && *v != options.ip_version) cr.skip = true;
  auto src = compile_entity(rule.source);
  auto dst = compile_entity(rule.destination);
  if (!src || !dst) {
    cr.skip = true;
    return {cr};
  }
  cr.src = std::move(*src);
  cr.dst = std::move(*dst);
  ConnectionSet base = ConnectionSet::all();
  if (rule.protocol) {
    cr.rule_protocol = rule.protocol->number;
    base = ConnectionSet::protocol(rule.protocol->number);
  }
  if (rule.not_protocol) base = base.subtract(ConnectionSet::protocol(rule.not_protocol->number));
  const auto icmp_coords = [](const IcmpMatch& m) {
    if (!m.type) return IntervalSet::range(0, 65535);
    const auto t = static_cast<std::uint32_t>(*m.type);
    if (!m.code) return IntervalSet::range(t * 256, t * 256 + 255);
    const auto c = static_cast<std::uint32_t>(*m.code);
    return IntervalSet::range(t * 256 + c, t * 256 + c);
  };
  const ConnectionSet any_icmp = ConnectionSet::protocol(proto::kIcmp).unite(ConnectionSet::protocol(proto::kIcmpV6));
  if (rule.icmp) {
    const auto coords = icmp_coords(*rule.icmp);
    base = base.intersect(ConnectionSet::of(proto::kIcmp, coords).unite(ConnectionSet::of(proto::kIcmpV6, coords)));
  }
  if (rule.not_icmp) {
    const auto coords = icmp_coords(*rule.not_icmp);
    base = base.intersect(any_icmp).subtract(
        ConnectionSet::of(proto::kIcmp, coords).unite(ConnectionSet::of(proto::kIcmpV6, coords)));
  }
  cr.dst_named = !cr.dst.named_ports.empty() || !cr.dst.named_not_ports.empty();
  // An Allow that may not match must not allow; a Pass that may or may not
  // match is followed both ways (programs.cpp walk_from); a Deny or Log
  // is taken as matching.
  const auto undetermined = [](CompiledRule& r) {
    if (r.action == Action::kAllow) r.skip = true;
    if (r.action == Action::kPass) r.undetermined_pass = true;
  };
  const bool services = rule.source.services || rule.destination.services;
  if (!cr.src.has_ports) {
    if (services) undetermined(cr);
    cr.base = std::move(base);
    return {cr};
  }
  std::vector<CompiledRule> out;
  if (cr.src.ports.empty() && cr.src.named_ports.empty()) {
    CompiledRule portless = cr;  // only notPorts: they hold for packets without ports
    portless.src.has_ports = false;
    portless.src.not_ports = IntervalSet{};
    portless.src.named_not_ports.clear();
    portless.base = base.subtract(port_protocols());
    if (services) undetermined(portless);
    out.push_back(std::move(portless));
  }
  cr.base = base.intersect(port_protocols());
  undetermined(cr);
  out.push_back(std::move(cr));
  return out;
}

// The rule's destination-port criteria applied to its base set, with named
// ports resolved on the destination's port list.
std::uint32_t Reachability::Impl::rule_conn(std::uint32_t rule_id, std::uint32_t dst_ports) {
  const CompiledRule& r = rules[rule_id];
  const std::uint64_t key = (std::uint64_t{rule_id} << 32) | (r.dst_named ? dst_ports : 0);
  if (auto it = rule_conn_cache.find(key); it != rule_conn_cache.end()) return it->second;
  ConnectionSet conn = r.base;
  if (r.dst.has_ports) {
    const auto& declared = port_lists[dst_ports];
    auto resolve = [&](const std::vector<std::string>& names) {
      ConnectionSet out;
      for (const auto& name : names)
        for (const auto& np : declared) {
          if (np.name != name) continue;
          if (r.rule_protocol && *r.rule_protocol != np.protocol) continue;
          out = out.unite(ConnectionSet::of(np.protocol, IntervalSet::range(np.port, np.port)));
        }
      return out;
    };
    // Packets without ports: excluded by `ports`, kept by `notPorts` alone.
    const bool positive = !r.dst.ports.empty() || !r.dst.named_ports.empty();
    const ConnectionSet portless = positive ? ConnectionSet::none() : conn.subtract(port_protocols());
    conn = conn.intersect(port_protocols());
    if (positive) conn = conn.restrict_ports(r.dst.ports).unite(conn.intersect(resolve(r.dst.named_ports)));
    if (!r.dst.not_ports.empty()) conn = conn.subtract(ConnectionSet::all().restrict_ports(r.dst.not_ports));
    if (!r.dst.named_not_ports.empty()) conn = conn.subtract(resolve(r.dst.named_not_ports));
    conn = conn.unite(portless);
  }
  const auto id = pool.intern(conn);
  rule_conn_cache.emplace(key, id);
  return id;
}

Holds Reachability::Impl::entity_holds(const CompiledEntity& e, const PeerClass& c) const {
  bool unknown = false;
  if (e.selector >= 0 && !test(c.sel_bits, static_cast<std::size_t>(e.selector))) {
    if (!c.addressless || !test(c.unknown_sel_bits, static_cast<std::size_t>(e.selector))) return Holds::kNo;
    unknown = true;  // the address could be inside a network set it matches
  }
  if (e.not_selector >= 0) {
    if (test(c.sel_bits, static_cast<std::size_t>(e.not_selector))) return Holds::kNo;
    if (c.addressless && test(c.unknown_sel_bits, static_cast<std::size_t>(e.not_selector))) unknown = true;
  }
  if (e.net >= 0) {
    if (c.addressless) {
      const Holds h = nets[static_cast<std::size_t>(e.net)].addressless;
      if (h == Holds::kNo) return Holds::kNo;
      unknown = unknown || h == Holds::kUnknown;
    } else if (!test(c.net_bits, static_cast<std::size_t>(e.net))) return Holds::kNo;
  }
  return unknown ? Holds::kUnknown : Holds::kYes;
}

void Reachability::Impl::compile_policies() {
  ordered = order_policies(model);
  tiers.resize(ordered.size());
  for (std::size_t t = 0; t < ordered.size(); ++t) {
    for (const Policy* p : ordered[t].policies) {
      PolicyRules pr{p, p->effective_selector ? intern_selector(p->effective_selector) : -2, {}, {}};
      if (p->types_ingress)
        for (const auto& r : p->ingress)
          for (auto& part : compile_rule(r)) {
            pr.ingress.push_back(static_cast<std::uint32_t>(rules.size()));
            rules.push_back(std::move(part));
          }
      if (p->types_egress)
        for (const auto& r : p->egress)
          for (auto& part : compile_rule(r)) {
            pr.egress.push_back(static_cast<std::uint32_t>(rules.size()));
            rules.push_back(std::move(part));
          }
      tiers[t].push_back(std::move(pr));
    }
  }
  stats.rules = rules.size();
}

}  // namespace rampart::engine
