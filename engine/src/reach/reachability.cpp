// The class-based reachability engine (see reachability.h for the idea).
//
// Stages, each feeding the next:
//   selectors + net predicates (interned from every policy and rule)
//     → endpoint signatures (selector bits, net-predicate bits, named ports, kind) → peer classes
//     → external blocks (disjoint IPv4 blocks) → more peer classes
//     → compiled rules (base ConnectionSet, peer criterion, port lists)
//     → per class and direction, a program (the rules that apply, tier by tier)
//     → per program, one tier walk per distinct matched-rule pattern → rows of interned sets
#include "rampart/engine/reachability.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "rampart/engine/policy_order.h"
#include "rampart/engine/selector_matcher.h"

namespace rampart::engine {

std::string ipv4_text(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) + "." +
         std::to_string(a & 255);
}

std::string ExternalBlock::text() const {
  std::string out;
  for (const auto& [lo, hi] : addresses.runs()) {
    if (!out.empty()) out += ',';
    out += ipv4_text(lo) + "-" + ipv4_text(hi);
  }
  return out;
}

namespace {

using Bits = std::vector<std::uint64_t>;

bool test(const Bits& bits, std::size_t i) { return (bits[i >> 6] >> (i & 63)) & 1u; }
void set_bit(Bits& bits, std::size_t i) { bits[i >> 6] |= std::uint64_t{1} << (i & 63); }

IntervalSet cidr_interval(const Cidr& c) {
  const std::uint32_t base = c.address.v4_value();
  const std::uint32_t size_minus_1 = c.prefix == 0 ? UINT32_MAX : (std::uint32_t{1} << (32 - c.prefix)) - 1;
  return IntervalSet::range(base, base + size_minus_1);
}

std::optional<int> implied_ip_version(const Rule& rule) {
  if (rule.ip_version) return rule.ip_version;
  if (rule.protocol) {
    if (rule.protocol->written == "ICMP") return 4;
    if (rule.protocol->written == "ICMPv6") return 6;
  }
  return std::nullopt;
}

// ip ∈ (nets or everything) and ip ∉ notNets, for one family.
struct NetPredicate {
  std::vector<Cidr> nets;
  std::vector<Cidr> not_nets;
  IntervalSet v4;  // the same as addresses (IPv4 analyses)

  [[nodiscard]] bool holds(const std::optional<IpAddress>& ip) const {
    if (!ip) return nets.empty();
    if (!nets.empty()) {
      bool in = false;
      for (const auto& c : nets) in = in || c.contains(*ip);
      if (!in) return false;
    }
    for (const auto& c : not_nets)
      if (c.contains(*ip)) return false;
    return true;
  }
};

// One side of a compiled rule.
struct CompiledEntity {
  int selector = -1;
  int not_selector = -1;
  int net = -1;
  bool has_ports = false;            // ports or notPorts present
  IntervalSet ports, not_ports;      // numeric
  std::vector<std::string> named_ports, named_not_ports;
};

struct CompiledRule {
  Action action = Action::kAllow;
  bool skip = false;
  bool restrict_to_port_protocols = false;  // an undetermined source-port criterion in a Deny/Log rule
  std::optional<std::uint8_t> rule_protocol;
  ConnectionSet base;  // protocol and ICMP criteria
  CompiledEntity src, dst;
  bool dst_named = false;
};

struct ProgramTier {
  Action default_action = Action::kDeny;
  std::vector<std::uint32_t> rules;  // compiled rule ids (self criteria already checked)
};

struct Program {
  std::vector<ProgramTier> tiers;
  bool profile_allows = true;
  std::uint32_t self_ports = 0;  // ingress: the subject's named ports
  bool isolated = false;
};

struct ConnPool {
  std::deque<ConnectionSet> sets;  // stable references: callers keep them
  std::unordered_multimap<std::size_t, std::uint32_t> index;
  ConnPool() {
    intern(ConnectionSet::none());
    intern(ConnectionSet::all());
  }
  std::uint32_t intern(const ConnectionSet& s) {
    const auto h = s.hash();
    auto [a, b] = index.equal_range(h);
    for (auto it = a; it != b; ++it)
      if (sets[it->second] == s) return it->second;
    const auto id = static_cast<std::uint32_t>(sets.size());
    sets.push_back(s);
    index.emplace(h, id);
    return id;
  }
};

std::string key_of(const std::vector<std::uint32_t>& v, std::uint32_t extra) {
  std::string k(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(std::uint32_t));
  k.append(reinterpret_cast<const char*>(&extra), sizeof extra);
  return k;
}

}  // namespace

struct Reachability::Impl {
  const Model& model;
  ReachOptions options;
  Stats stats;

  std::vector<std::unique_ptr<SelectorMatcher>> selectors;
  std::unordered_map<std::string, int> selector_index;
  std::vector<NetPredicate> nets;
  std::map<std::string, int> net_index;
  std::vector<std::vector<NamedPort>> port_lists;  // interned named-port lists
  std::map<std::string, std::uint32_t> port_index;

  // Peer classes.
  struct PeerClass {
    Bits label_bits;  // selectors matching the endpoint's labels (which policies select it)
    Bits sel_bits;    // selectors matching its address: labels or a containing network set
    Bits net_bits;
    std::uint32_t ports = 0;
    int kind = 0;  // 0 pod, 1 host endpoint, 2 external
    bool profile_allows = true;
    std::vector<std::uint32_t> endpoints;  // members (endpoints only)
  };
  std::vector<PeerClass> classes;
  std::vector<std::uint32_t> endpoint_class;
  std::vector<ExternalBlock> src_blocks, dst_blocks;

  std::vector<CompiledRule> rules;
  struct PolicyRules {
    const Policy* policy;
    int selector;
    std::vector<std::uint32_t> ingress, egress;
  };
  std::vector<std::vector<PolicyRules>> tiers;  // parallel to ordered tiers
  std::vector<OrderedTier> ordered;

  // Rows.
  ConnPool pool;
  std::vector<std::uint32_t> ingress_program, egress_program;  // per class (UINT32_MAX: none)
  std::vector<std::vector<std::uint32_t>> rows;  // per program: peer class → connection-set id
  mutable std::unordered_map<std::uint64_t, std::uint32_t> pair_cache;

  explicit Impl(const Model& m, ReachOptions o) : model(m), options(o) {}

  // Label keys any selector reads: endpoints are grouped by these only.
  std::set<std::string, std::less<>> referenced_keys;
  // Selectors that require projectcalico.org/namespace == X (most scoped
  // ones) are evaluated only for endpoints of namespace X.
  std::map<std::string, std::vector<std::uint32_t>, std::less<>> by_namespace;
  std::vector<std::uint32_t> unscoped;

  static void collect_keys(const selector::Node& n, std::set<std::string, std::less<>>& keys) {
    if (n.is_label_op()) keys.insert(n.key);
    for (const auto& c : n.children) collect_keys(*c, keys);
  }

  static std::optional<std::string> required_namespace(const selector::Node& n) {
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

  int intern_selector(const std::optional<selector::Selector>& s) {
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

  // nullopt: a non-empty list lost every CIDR to the family filter.
  std::optional<int> intern_net(const EntityRule& er) {
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

  std::uint32_t intern_ports(std::vector<NamedPort> ports) {
    std::sort(ports.begin(), ports.end(), [](const NamedPort& a, const NamedPort& b) {
      return std::tie(a.name, a.protocol, a.port) < std::tie(b.name, b.protocol, b.port);
    });
    std::string key;
    for (const auto& p : ports) key += p.name + "/" + std::to_string(p.protocol) + "/" + std::to_string(p.port) + ";";
    auto [it, inserted] = port_index.try_emplace(key, static_cast<std::uint32_t>(port_lists.size()));
    if (inserted) port_lists.push_back(std::move(ports));
    return it->second;
  }

  static void compile_ports(const std::vector<PortSpec>& specs, IntervalSet& numeric, std::vector<std::string>& named) {
    for (const auto& s : specs) {
      if (s.is_named()) named.push_back(s.name);
      else numeric.add(s.min, s.max);
    }
  }

  std::optional<CompiledEntity> compile_entity(const EntityRule& er) {
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

  CompiledRule compile_rule(const Rule& rule) {
    CompiledRule cr;
    cr.action = rule.action;
    if (auto v = implied_ip_version(rule); v && *v != options.ip_version) cr.skip = true;
    auto src = compile_entity(rule.source);
    auto dst = compile_entity(rule.destination);
    if (!src || !dst) {
      cr.skip = true;
      return cr;
    }
    cr.src = std::move(*src);
    cr.dst = std::move(*dst);
    const bool undetermined = cr.src.has_ports || rule.source.services || rule.destination.services;
    if (undetermined) {
      if (rule.action == Action::kAllow || rule.action == Action::kPass) cr.skip = true;
      if (cr.src.has_ports) cr.restrict_to_port_protocols = true;
    }
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
    if (cr.restrict_to_port_protocols) base = base.restrict_ports(IntervalSet::range(1, 65535));
    cr.base = std::move(base);
    cr.dst_named = !cr.dst.named_ports.empty() || !cr.dst.named_not_ports.empty();
    return cr;
  }

  // The rule's destination-port criteria applied to its base set, with named
  // ports resolved on the destination's port list.
  std::unordered_map<std::uint64_t, std::uint32_t> rule_conn_cache;
  std::uint32_t rule_conn(std::uint32_t rule_id, std::uint32_t dst_ports) {
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
      conn = conn.restrict_ports(IntervalSet::range(1, 65535));
      if (!r.dst.ports.empty() || !r.dst.named_ports.empty())
        conn = conn.restrict_ports(r.dst.ports).unite(conn.intersect(resolve(r.dst.named_ports)));
      if (!r.dst.not_ports.empty()) conn = conn.subtract(ConnectionSet::all().restrict_ports(r.dst.not_ports));
      if (!r.dst.named_not_ports.empty()) conn = conn.subtract(resolve(r.dst.named_not_ports));
    }
    const auto id = pool.intern(conn);
    rule_conn_cache.emplace(key, id);
    return id;
  }

  bool entity_holds(const CompiledEntity& e, const PeerClass& c) const {
    if (e.selector >= 0 && !test(c.sel_bits, static_cast<std::size_t>(e.selector))) return false;
    if (e.not_selector >= 0 && test(c.sel_bits, static_cast<std::size_t>(e.not_selector))) return false;
    if (e.net >= 0 && !test(c.net_bits, static_cast<std::size_t>(e.net))) return false;
    return true;
  }

  void compile_policies() {
    ordered = order_policies(model);
    tiers.resize(ordered.size());
    for (std::size_t t = 0; t < ordered.size(); ++t) {
      for (const Policy* p : ordered[t].policies) {
        PolicyRules pr{p, p->effective_selector ? intern_selector(p->effective_selector) : -2, {}, {}};
        if (p->types_ingress)
          for (const auto& r : p->ingress) {
            pr.ingress.push_back(static_cast<std::uint32_t>(rules.size()));
            rules.push_back(compile_rule(r));
          }
        if (p->types_egress)
          for (const auto& r : p->egress) {
            pr.egress.push_back(static_cast<std::uint32_t>(rules.size()));
            rules.push_back(compile_rule(r));
          }
        tiers[t].push_back(std::move(pr));
      }
    }
    stats.rules = rules.size();
  }

  // ------------------------------------------------------------ classes

  std::unordered_map<std::string, std::uint32_t> class_index;

  std::uint32_t intern_class(PeerClass c) {
    std::string key(reinterpret_cast<const char*>(c.sel_bits.data()), c.sel_bits.size() * 8);
    key.append(reinterpret_cast<const char*>(c.label_bits.data()), c.label_bits.size() * 8);
    key.append(reinterpret_cast<const char*>(c.net_bits.data()), c.net_bits.size() * 8);
    key += std::to_string(c.ports) + "/" + std::to_string(c.kind) + (c.profile_allows ? "a" : "d");
    auto [it, inserted] = class_index.try_emplace(key, static_cast<std::uint32_t>(classes.size()));
    if (inserted) classes.push_back(std::move(c));
    return it->second;
  }

  std::vector<Bits> netset_sel_bits;
  std::vector<IntervalSet> netset_v4;

  void selector_bits_from_netsets(const std::optional<IpAddress>& ip, Bits& bits) const {
    if (!ip) return;
    for (std::size_t i = 0; i < model.network_sets.size(); ++i) {
      bool in = false;
      for (const auto& n : model.network_sets[i].nets)
        if (n.address.family == ip->family && n.contains(*ip)) in = true;
      if (!in) continue;
      for (std::size_t w = 0; w < bits.size(); ++w) bits[w] |= netset_sel_bits[i][w];
    }
  }

  void classify_endpoints() {
    const std::size_t sel_words = (selectors.size() + 63) / 64;
    const std::size_t net_words = (nets.size() + 63) / 64;
    netset_sel_bits.assign(model.network_sets.size(), Bits(sel_words, 0));
    for (std::size_t i = 0; i < model.network_sets.size(); ++i)
      for (std::size_t s = 0; s < selectors.size(); ++s)
        if (selectors[s]->matches(model.network_sets[i].effective_labels)) set_bit(netset_sel_bits[i], s);

    // Selectors are evaluated once per distinct label map.
    std::unordered_map<std::string, Bits> by_labels;
    endpoint_class.resize(model.endpoints.size());
    for (std::size_t e = 0; e < model.endpoints.size(); ++e) {
      const Endpoint& ep = model.endpoints[e];
      std::string lkey;
      for (const auto& [k, v] : ep.effective_labels) {
        if (!referenced_keys.contains(k)) continue;
        lkey += k;
        lkey += '\0';
        lkey += v;
        lkey += '\1';
      }
      auto [it, inserted] = by_labels.try_emplace(lkey);
      if (inserted) {
        it->second.assign(sel_words, 0);
        for (const auto s : unscoped)
          if (selectors[s]->matches(ep.effective_labels)) set_bit(it->second, s);
        if (auto ns = ep.effective_labels.find("projectcalico.org/namespace"); ns != ep.effective_labels.end())
          if (auto scoped = by_namespace.find(ns->second); scoped != by_namespace.end())
            for (const auto s : scoped->second)
              if (selectors[s]->matches(ep.effective_labels)) set_bit(it->second, s);
      }
      PeerClass c;
      c.label_bits = it->second;
      c.sel_bits = it->second;
      std::optional<IpAddress> ip;
      for (const auto& a : ep.ips)
        if (a.family == options.ip_version) {
          ip = a;
          break;
        }
      if (!model.network_sets.empty()) selector_bits_from_netsets(ip, c.sel_bits);
      c.net_bits.assign(net_words, 0);
      for (std::size_t n = 0; n < nets.size(); ++n)
        if (nets[n].holds(ip)) set_bit(c.net_bits, n);
      c.ports = intern_ports(ep.ports);
      c.kind = ep.kind == EndpointKind::kPod ? 0 : 1;
      c.profile_allows = true;
      if (ep.kind == EndpointKind::kHostEndpoint) {
        c.profile_allows = false;
        for (const auto& p : ep.profiles) c.profile_allows = c.profile_allows || p == "projectcalico-default-allow";
      }
      const auto id = intern_class(std::move(c));
      classes[id].endpoints.push_back(static_cast<std::uint32_t>(e));
      endpoint_class[e] = id;
    }
    stats.endpoint_classes = classes.size();
  }

  // netpol-analyzer's DisjointIPBlocks: the common refinement of the blocks,
  // smallest first; a block split by an earlier one keeps its pieces apart.
  static std::vector<IntervalSet> disjoint_blocks(std::vector<IntervalSet> inputs) {
    inputs.push_back(IntervalSet::range(0, UINT32_MAX));
    auto count = [](const IntervalSet& s) {
      std::uint64_t n = 0;
      for (const auto& [lo, hi] : s.runs()) n += std::uint64_t{hi} - lo + 1;
      return n;
    };
    std::stable_sort(inputs.begin(), inputs.end(), [&](const auto& a, const auto& b) { return count(a) < count(b); });
    std::vector<IntervalSet> out;
    for (auto incoming : inputs) {
      std::vector<IntervalSet> to_add;
      for (auto& existing : out) {
        const auto common = existing.intersect(incoming);
        if (common.empty()) continue;
        incoming = incoming.subtract(common);
        if (!(common == existing)) {
          to_add.push_back(common);
          existing = existing.subtract(common);
        }
        if (incoming.empty()) break;
      }
      for (const auto& [lo, hi] : incoming.runs()) out.push_back(IntervalSet::range(lo, hi));
      for (auto& b : to_add) out.push_back(std::move(b));
    }
    std::erase_if(out, [](const IntervalSet& s) { return s.empty(); });
    return out;
  }

  void classify_externals() {
    if (!options.externals || options.ip_version != 4) return;
    std::vector<IntervalSet> netset_blocks;
    for (const auto& set : model.network_sets) {
      IntervalSet s;
      for (const auto& n : set.nets)
        if (n.address.family == 4) s = s.unite(cidr_interval(n));
      netset_blocks.push_back(s);
    }
    // A network set cuts the blocks of a direction only when a rule of that
    // direction can match it (its selector or notSelector selects the set).
    auto referenced = [&](std::size_t set, bool sources) {
      for (const auto& tier : tiers)
        for (const auto& pr : tier)
          for (const auto id : sources ? pr.ingress : pr.egress) {
            const auto& e = sources ? rules[id].src : rules[id].dst;
            for (const int s : {e.selector, e.not_selector})
              if (s >= 0 && test(netset_sel_bits[set], static_cast<std::size_t>(s))) return true;
          }
      return false;
    };
    auto collect = [&](bool sources) {
      std::vector<IntervalSet> in;
      for (std::size_t i = 0; i < netset_blocks.size(); ++i)
        if (!netset_blocks[i].empty() && referenced(i, sources)) in.push_back(netset_blocks[i]);
      for (const auto& b : sources ? options.extra_source_blocks : options.extra_destination_blocks) in.push_back(b);
      for (const auto& tier : tiers)
        for (const auto& pr : tier)
          for (const auto id : sources ? pr.ingress : pr.egress) {
            const auto& e = sources ? rules[id].src : rules[id].dst;
            if (e.net >= 0) in.push_back(nets[static_cast<std::size_t>(e.net)].v4);
          }
      std::sort(in.begin(), in.end());
      in.erase(std::unique(in.begin(), in.end()), in.end());
      std::vector<ExternalBlock> blocks;
      for (auto& b : disjoint_blocks(std::move(in))) {
        const auto ip = IpAddress::v4(b.runs().front().first);
        PeerClass c;
        c.sel_bits.assign((selectors.size() + 63) / 64, 0);
        c.label_bits = c.sel_bits;
        selector_bits_from_netsets(ip, c.sel_bits);
        c.net_bits.assign((nets.size() + 63) / 64, 0);
        for (std::size_t n = 0; n < nets.size(); ++n)
          if (nets[n].holds(ip)) set_bit(c.net_bits, n);
        c.ports = intern_ports({});
        c.kind = 2;
        blocks.push_back(ExternalBlock{std::move(b), intern_class(std::move(c))});
      }
      std::sort(blocks.begin(), blocks.end(),
                [](const auto& a, const auto& b) { return a.addresses.runs() < b.addresses.runs(); });
      return blocks;
    };
    src_blocks = collect(true);
    dst_blocks = collect(false);
  }

  // ------------------------------------------------------------ programs

  std::vector<Program> programs;
  std::map<std::string, std::uint32_t> program_index;

  std::uint32_t build_program(const PeerClass& c, Direction d) {
    Program prog;
    prog.profile_allows = c.profile_allows;
    prog.self_ports = d == Direction::kIngress ? c.ports : 0;
    std::string key;
    for (std::size_t t = 0; t < tiers.size(); ++t) {
      ProgramTier tier;
      tier.default_action = ordered[t].default_action;
      bool governs = false;
      for (const auto& pr : tiers[t]) {
        if (pr.selector < 0 || !test(c.label_bits, static_cast<std::size_t>(pr.selector))) continue;
        if (!pr.policy->governs(d)) continue;
        governs = true;
        for (const auto id : d == Direction::kIngress ? pr.ingress : pr.egress) {
          const CompiledRule& r = rules[id];
          if (r.skip) continue;
          // The subject's own side: destination for ingress, source for egress.
          if (!entity_holds(d == Direction::kIngress ? r.dst : r.src, c)) continue;
          tier.rules.push_back(id);
        }
      }
      if (!governs) continue;
      prog.isolated = true;
      key += "T" + std::to_string(static_cast<int>(tier.default_action)) + ":";
      for (auto id : tier.rules) key += std::to_string(id) + ",";
      prog.tiers.push_back(std::move(tier));
    }
    key += "|" + std::to_string(prog.self_ports) + (prog.profile_allows ? "a" : "d");
    auto [it, inserted] = program_index.try_emplace(key, static_cast<std::uint32_t>(programs.size()));
    if (inserted) programs.push_back(std::move(prog));
    return it->second;
  }

  std::vector<std::uint32_t> walk_rows(std::uint32_t program_id, Direction d) {
    const Program& prog = programs[program_id];
    std::vector<std::uint32_t> row(classes.size(), 0);
    if (!prog.isolated) {
      std::fill(row.begin(), row.end(), prog.profile_allows ? 1u : 0u);
      return row;
    }
    std::unordered_map<std::string, std::uint32_t> memo;
    std::vector<std::uint32_t> matched;
    bool any_named = false;
    for (const auto& tier : prog.tiers)
      for (auto id : tier.rules) any_named = any_named || rules[id].dst_named;
    // Most peers match no rule of a program (other namespaces): one walk.
    std::uint32_t no_match = UINT32_MAX;
    for (std::size_t p = 0; p < classes.size(); ++p) {
      const PeerClass& peer = classes[p];
      matched.clear();
      bool any = false;
      for (std::size_t t = 0; t < prog.tiers.size(); ++t) {
        for (auto id : prog.tiers[t].rules) {
          const CompiledRule& r = rules[id];
          if (entity_holds(d == Direction::kIngress ? r.src : r.dst, peer)) {
            matched.push_back(id);
            any = true;
          }
        }
        matched.push_back(UINT32_MAX);  // tier boundary
      }
      if (!any) {
        if (no_match == UINT32_MAX) {
          ++stats.walks;
          no_match = walk(prog, matched, 0);
        }
        row[p] = no_match;
        continue;
      }
      const std::uint32_t dst_ports = d == Direction::kIngress ? prog.self_ports : (any_named ? peer.ports : 0);
      const auto key = key_of(matched, dst_ports);
      auto [it, inserted] = memo.try_emplace(key, 0);
      if (inserted) {
        ++stats.walks;
        it->second = walk(prog, matched, dst_ports);
      }
      row[p] = it->second;
    }
    return row;
  }

  std::uint32_t walk(const Program& prog, const std::vector<std::uint32_t>& matched, std::uint32_t dst_ports) {
    ConnectionSet undecided = ConnectionSet::all();
    ConnectionSet allowed;
    std::size_t i = 0;
    for (std::size_t t = 0; t < prog.tiers.size(); ++t) {
      ConnectionSet passed;
      for (; matched[i] != UINT32_MAX; ++i) {
        if (undecided.empty()) continue;
        const CompiledRule& r = rules[matched[i]];
        if (r.action == Action::kLog) continue;
        const ConnectionSet m = undecided.intersect(pool.sets[rule_conn(matched[i], dst_ports)]);
        if (m.empty()) continue;
        if (r.action == Action::kAllow) allowed = allowed.unite(m);
        else if (r.action == Action::kPass) passed = passed.unite(m);
        undecided = undecided.subtract(m);
      }
      ++i;  // boundary
      if (prog.tiers[t].default_action == Action::kPass) undecided = undecided.unite(passed);
      else undecided = passed;
    }
    if (prog.profile_allows) allowed = allowed.unite(undecided);
    return pool.intern(allowed);
  }

  void compute_rows() {
    ingress_program.assign(classes.size(), UINT32_MAX);
    egress_program.assign(classes.size(), UINT32_MAX);
    for (std::size_t c = 0; c < classes.size(); ++c) {
      if (classes[c].kind == 2) continue;
      ingress_program[c] = build_program(classes[c], Direction::kIngress);
    }
    const std::size_t first_egress = programs.size();
    for (std::size_t c = 0; c < classes.size(); ++c) {
      if (classes[c].kind == 2) continue;
      egress_program[c] = build_program(classes[c], Direction::kEgress);
    }
    std::vector<Direction> dir(programs.size(), Direction::kIngress);
    for (std::size_t p = first_egress; p < programs.size(); ++p) dir[p] = Direction::kEgress;
    // A program may be shared by both directions only if keys collide, which
    // the key's content prevents (rule ids differ by direction) except for
    // programs with no policy, whose rows do not depend on the direction.
    rows.assign(programs.size(), {});
    for (std::size_t c = 0; c < classes.size(); ++c) {
      if (classes[c].kind == 2) continue;
      for (auto [prog, d] : {std::pair{ingress_program[c], Direction::kIngress}, {egress_program[c], Direction::kEgress}})
        if (rows[prog].empty()) rows[prog] = walk_rows(prog, d);
    }
    stats.ingress_programs = first_egress;
    stats.egress_programs = programs.size() - first_egress;
  }
};

Reachability::Reachability(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reachability::Reachability(Reachability&&) noexcept = default;
Reachability& Reachability::operator=(Reachability&&) noexcept = default;
Reachability::~Reachability() = default;

Reachability Reachability::compute(const Model& model, const ReachOptions& options) {
  auto impl = std::make_unique<Impl>(model, options);
  impl->compile_policies();
  impl->classify_endpoints();
  impl->classify_externals();
  impl->compute_rows();
  impl->stats.endpoints = model.endpoints.size();
  impl->stats.peer_classes = impl->classes.size();
  impl->stats.selectors = impl->selectors.size();
  impl->stats.net_predicates = impl->nets.size();
  impl->stats.connection_sets = impl->pool.sets.size();
  return Reachability(std::move(impl));
}

std::uint32_t Reachability::class_of_endpoint(std::size_t i) const { return impl_->endpoint_class[i]; }
std::size_t Reachability::peer_class_count() const { return impl_->classes.size(); }
std::size_t Reachability::endpoint_class_count() const { return impl_->stats.endpoint_classes; }
const std::vector<ExternalBlock>& Reachability::source_blocks() const { return impl_->src_blocks; }
const std::vector<ExternalBlock>& Reachability::destination_blocks() const { return impl_->dst_blocks; }
const Reachability::Stats& Reachability::stats() const { return impl_->stats; }

const ConnectionSet& Reachability::ingress(std::uint32_t subject, std::uint32_t peer) const {
  const auto prog = impl_->ingress_program[subject];
  if (prog == UINT32_MAX) return impl_->pool.sets[1];  // externals are not policed
  return impl_->pool.sets[impl_->rows[prog][peer]];
}

const ConnectionSet& Reachability::egress(std::uint32_t subject, std::uint32_t peer) const {
  const auto prog = impl_->egress_program[subject];
  if (prog == UINT32_MAX) return impl_->pool.sets[1];
  return impl_->pool.sets[impl_->rows[prog][peer]];
}

bool Reachability::isolated(std::uint32_t subject, Direction d) const {
  const auto prog = d == Direction::kIngress ? impl_->ingress_program[subject] : impl_->egress_program[subject];
  return prog != UINT32_MAX && impl_->programs[prog].isolated;
}

const ConnectionSet& Reachability::allowed(std::uint32_t src, std::uint32_t dst) const {
  auto& impl = *impl_;
  auto row_id = [&](std::uint32_t prog, std::uint32_t peer) -> std::uint32_t {
    return prog == UINT32_MAX ? 1u : impl.rows[prog][peer];
  };
  const std::uint32_t e = row_id(impl.egress_program[src], dst);
  const std::uint32_t i = row_id(impl.ingress_program[dst], src);
  if (e == 0 || i == 1) return impl.pool.sets[e];
  if (i == 0 || e == 1) return impl.pool.sets[i];
  const std::uint64_t key = (std::uint64_t{e} << 32) | i;
  auto it = impl.pair_cache.find(key);
  if (it == impl.pair_cache.end())
    it = impl.pair_cache.emplace(key, impl.pool.intern(impl.pool.sets[e].intersect(impl.pool.sets[i]))).first;
  return impl.pool.sets[it->second];
}

}  // namespace rampart::engine
