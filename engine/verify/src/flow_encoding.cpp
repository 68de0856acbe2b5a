#include "flow_encoding.h"

#include <algorithm>
#include <limits>

#include "flow_address.h"
#include "rampart/engine/selector_matcher.h"

namespace rampart::verify::detail {

using engine::Action;
using engine::Direction;
using engine::Model;
using engine::Policy;
using engine::Rule;

namespace {

// Policy tie-break string (calico-semantics §4.2, PolKVLess).
std::string policy_key(const Policy& p) { return p.name + "/" + p.ns + "/" + engine::kind_name(p.kind); }

struct TierInfo {
  bool declared = true;
  std::optional<double> order;
  bool default_pass = false;
};

TierInfo tier_info(const Model& model, const std::string& name) {
  if (const auto* tier = model.find_tier(name))
    return {tier->declared, tier->order, tier->default_action == Action::kPass};
  // Built-in tiers exist even when no manifest declares them (§3.8).
  if (name == "default") return {true, 1e6, false};
  if (name == "kube-admin") return {true, 1000, true};
  if (name == "kube-baseline") return {true, 1e7, true};
  return {false, std::nullopt, false};  // invalid tier: after all valid ones, behaves as Deny
}

}  // namespace

std::vector<OrderedTier> order_policies(const Model& model, Direction direction) {
  std::map<std::string, std::vector<const Policy*>> by_tier;
  for (const auto& p : model.policies) {
    if (!p.applies_to_workloads() || !p.governs(direction)) continue;
    by_tier[p.tier.empty() ? "default" : p.tier].push_back(&p);
  }
  std::vector<OrderedTier> tiers;
  std::vector<TierInfo> infos;
  for (auto& [name, policies] : by_tier) {
    std::stable_sort(policies.begin(), policies.end(), [](const Policy* a, const Policy* b) {
      const double oa = a->order.value_or(std::numeric_limits<double>::infinity());
      const double ob = b->order.value_or(std::numeric_limits<double>::infinity());
      if (oa != ob) return oa < ob;
      return policy_key(*a) < policy_key(*b);
    });
    const TierInfo info = tier_info(model, name);
    tiers.push_back({name, info.default_pass, policies});
    infos.push_back(info);
  }
  std::vector<std::size_t> idx(tiers.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    const auto& ia = infos[a];
    const auto& ib = infos[b];
    if (ia.declared != ib.declared) return ia.declared;
    if (ia.order.has_value() != ib.order.has_value()) return ia.order.has_value();
    if (ia.order && *ia.order != *ib.order) return *ia.order < *ib.order;
    return tiers[a].name < tiers[b].name;
  });
  std::vector<OrderedTier> out;
  for (auto i : idx) out.push_back(std::move(tiers[i]));
  return out;
}

std::map<std::string, int> tier_ranks(const Model& model) {
  std::set<std::string> names;
  for (const auto& p : model.policies)
    if (p.applies_to_workloads()) names.insert(p.tier.empty() ? "default" : p.tier);
  std::vector<std::pair<std::string, TierInfo>> tiers;
  for (const auto& name : names) tiers.emplace_back(name, tier_info(model, name));
  std::stable_sort(tiers.begin(), tiers.end(), [](const auto& a, const auto& b) {
    const TierInfo& ia = a.second;
    const TierInfo& ib = b.second;
    if (ia.declared != ib.declared) return ia.declared;
    if (ia.order.has_value() != ib.order.has_value()) return ia.order.has_value();
    if (ia.order && *ia.order != *ib.order) return *ia.order < *ib.order;
    return a.first < b.first;
  });
  std::map<std::string, int> out;
  for (std::size_t i = 0; i < tiers.size(); ++i) out.emplace(tiers[i].first, static_cast<int>(i));
  return out;
}

namespace {
void add_entity(const engine::EntityRule& er, LabelUniverse& u) {
  if (er.effective_selector) u.add_selector(er.effective_selector->root());
  if (er.effective_not_selector) u.add_selector(er.effective_not_selector->root());
}
}  // namespace

void collect_selectors(const Model& model, LabelUniverse& u) {
  for (const auto& p : model.policies) {
    if (p.effective_selector) u.add_selector(p.effective_selector->root());
    for (const auto* rules : {&p.ingress, &p.egress})
      for (const auto& r : *rules) {
        add_entity(r.source, u);
        add_entity(r.destination, u);
      }
  }
  // Existing namespaces pin the labels of pods placed in them.
  for (const auto& ns : model.namespaces) {
    u.add_literal(kNamespaceKey, ns.name);
    for (const auto& [k, v] : ns.labels) u.add_literal(std::string(kNsPrefix) + k, v);
  }
}

void collect_selectors(const Model& model, const std::vector<const Policy*>& policies, LabelUniverse& u) {
  for (const Policy* p : policies) {
    if (p->effective_selector) u.add_selector(p->effective_selector->root());
    for (const auto* rules : {&p->ingress, &p->egress})
      for (const auto& r : *rules) {
        add_entity(r.source, u);
        add_entity(r.destination, u);
      }
  }
  for (const auto& ns : model.namespaces) u.reserve(ns.name);
}

std::vector<std::string> collect_named_ports(const std::vector<const Policy*>& policies) {
  std::set<std::string> names;
  for (const Policy* p : policies)
    for (const auto* rules : {&p->ingress, &p->egress})
      for (const auto& r : *rules)
        for (const auto* er : {&r.source, &r.destination})
          for (const auto* list : {&er->ports, &er->not_ports})
            for (const auto& spec : *list)
              if (spec.is_named()) names.insert(spec.name);
  return {names.begin(), names.end()};
}

std::vector<std::string> collect_named_ports(const Model& model) {
  std::set<std::string> names;
  for (const auto& p : model.policies)
    for (const auto* rules : {&p.ingress, &p.egress})
      for (const auto& r : *rules)
        for (const auto* er : {&r.source, &r.destination})
          for (const auto* list : {&er->ports, &er->not_ports})
            for (const auto& spec : *list)
              if (spec.is_named()) names.insert(spec.name);
  return {names.begin(), names.end()};
}

FlowWorld::FlowWorld(z3::context& ctx, const LabelUniverse& universe, std::vector<std::string> port_names)
    : ctx_(&ctx),
      universe_(&universe),
      port_names_(std::move(port_names)),
      packet_{ctx.bool_const("pkt.v6"),        ctx.int_const("pkt.proto"),     ctx.int_const("pkt.sport"),
              ctx.int_const("pkt.dport"),      ctx.int_const("pkt.icmp_type"), ctx.int_const("pkt.icmp_code")} {
  std::sort(port_names_.begin(), port_names_.end());
  port_names_.erase(std::unique(port_names_.begin(), port_names_.end()), port_names_.end());
  src_ = std::make_unique<SymEndpoint>(make_endpoint("src"));
  dst_ = std::make_unique<SymEndpoint>(make_endpoint("dst"));
}

SymEndpoint FlowWorld::make_endpoint(const std::string& name) {
  SymEndpoint ep{ctx_->bool_const((name + ".pod").c_str()), SymLabels(*ctx_, *universe_, name),
                 ctx_->int_const((name + ".ip4").c_str()), ctx_->int_const((name + ".ip6").c_str()), {}};
  for (const auto& port : port_names_) {
    const std::string base = name + ".port[" + port + "]";
    ep.named_ports.emplace(port, SymEndpoint::Port{ctx_->bool_const((base + "?").c_str()),
                                                   ctx_->int_const((base + ".proto").c_str()),
                                                   ctx_->int_const((base + ".number").c_str())});
  }
  return ep;
}

z3::expr FlowWorld::well_formed(const Model* inventory) const {
  z3::context& c = *ctx_;
  z3::expr_vector parts(c);
  const SymPacket& p = packet_;
  const z3::expr port_proto = p.protocol == 6 || p.protocol == 17 || p.protocol == 132;
  const z3::expr icmp_proto = p.protocol == 1 || p.protocol == 58;
  parts.push_back(p.protocol >= 0 && p.protocol <= 255);
  parts.push_back(z3::ite(port_proto, p.src_port >= 1 && p.src_port <= 65535 && p.dst_port >= 1 && p.dst_port <= 65535,
                          p.src_port == 0 && p.dst_port == 0));
  parts.push_back(z3::ite(icmp_proto, p.icmp_type >= 0 && p.icmp_type <= 255 && p.icmp_code >= 0 && p.icmp_code <= 255,
                          p.icmp_type == 0 && p.icmp_code == 0));
  // ICMP is IPv4's, ICMPv6 is IPv6's.
  parts.push_back(z3::implies(p.protocol == 1, !p.v6));
  parts.push_back(z3::implies(p.protocol == 58, p.v6));

  const z3::expr two32 = c.int_val(static_cast<std::int64_t>(1) << 32);
  const z3::expr two128 = c.int_val(u128_str((static_cast<U128>(1) << 127)).c_str()) * 2;
  for (const SymEndpoint* ep : {src_.get(), dst_.get()}) {
    const SymLabels& l = ep->labels;
    parts.push_back(l.domain());
    parts.push_back(ep->ip4 >= 0 && ep->ip4 < two32);
    parts.push_back(ep->ip6 >= 0 && ep->ip6 < two128);
    for (const auto& [name, port] : ep->named_ports) {
      parts.push_back(z3::implies(port.declared, (port.protocol == 6 || port.protocol == 17 || port.protocol == 132) &&
                                                     port.number >= 1 && port.number <= 65535));
      parts.push_back(z3::implies(!ep->is_pod, !port.declared));
    }
    // Addresses no endpoint uses: "this network", loopback, multicast and
    // reserved (IPv4 0/8, 127/8, 224/3; IPv6 ::, ::1, ff00::/8); pods also
    // never have link-local addresses (169.254/16, fe80::/10).
    const auto outside = [&](const char* cidr) { return !in_cidr(*Cidr::parse(cidr), *ep); };
    parts.push_back(outside("0.0.0.0/8") && outside("127.0.0.0/8") && outside("224.0.0.0/3"));
    parts.push_back(outside("::/127") && outside("ff00::/8"));
    parts.push_back(z3::implies(ep->is_pod, outside("169.254.0.0/16") && outside("fe80::/10")));
    // A pod's effective labels (calico-semantics §1.6).
    z3::expr_vector pod(c);
    pod.push_back(l.at(kNamespaceKey).present);
    pod.push_back(l.at(kOrchestratorKey).present);
    std::map<std::string, int, std::less<>> no_others;
    pod.push_back(l.at(kOrchestratorKey).value == l.value_of(kOrchestratorKey, "k8s", no_others));
    pod.push_back(l.value_equal(kNsNameKey, l, kNamespaceKey));
    pod.push_back(l.value_equal(kNsMetaNameKey, l, kNamespaceKey));
    pod.push_back(l.value_equal(kSaNameKey, l, kServiceAccountKey));
    parts.push_back(z3::implies(ep->is_pod, z3::mk_and(pod)));
    z3::expr_vector none(c);
    for (const auto& key : universe_->keys()) none.push_back(!l.at(key).present);
    parts.push_back(z3::implies(!ep->is_pod, z3::mk_and(none)));
    if (inventory) {
      std::map<std::string, int, std::less<>> unused;
      const bool string_names = universe_->is_string(kNamespaceKey);
      for (const auto& ns : inventory->namespaces) {
        if (!string_names && universe_->literal_index(ns.name) < 0) continue;
        if (!ns.declared) continue;  // known only by name: its other labels are free
        z3::expr_vector same(c);
        for (const auto& key : universe_->keys()) {
          if (!key.starts_with(kNsPrefix) || key == kNsNameKey) continue;
          const auto it = ns.labels.find(std::string_view(key).substr(kNsPrefix.size()));
          if (it == ns.labels.end()) {
            same.push_back(!l.at(key).present);
          } else {
            same.push_back(l.at(key).present && l.at(key).value == l.value_of(key, it->second, unused));
          }
        }
        const z3::expr in_ns = l.at(kNamespaceKey).present &&
                               l.at(kNamespaceKey).value == l.value_of(kNamespaceKey, ns.name, unused);
        parts.push_back(z3::implies(ep->is_pod && in_ns, z3::mk_and(same)));
      }
    }
  }
  // Two pods in one namespace see the same namespace labels; with the same
  // service account, the same service-account labels.
  const SymLabels& a = src_->labels;
  const SymLabels& b = dst_->labels;
  const z3::expr same_ns = src_->is_pod && dst_->is_pod && a.value_equal(kNamespaceKey, b, kNamespaceKey);
  const z3::expr same_sa = same_ns && a.value_equal(kServiceAccountKey, b, kServiceAccountKey);
  z3::expr_vector ns_same(c), sa_same(c);
  for (const auto& key : universe_->keys()) {
    if (key.starts_with(kNsPrefix)) ns_same.push_back(a.same(key, b));
    if (key.starts_with(kSaPrefix)) sa_same.push_back(a.same(key, b));
  }
  parts.push_back(z3::implies(same_ns, z3::mk_and(ns_same)));
  parts.push_back(z3::implies(same_sa, z3::mk_and(sa_same)));
  return z3::mk_and(parts);
}

z3::expr FlowWorld::one_pod_per_address() const {
  z3::context& c = *ctx_;
  const SymEndpoint& s = *src_;
  const SymEndpoint& d = *dst_;
  const z3::expr same_address = z3::ite(packet_.v6, s.ip6 == d.ip6, s.ip4 == d.ip4);
  z3::expr_vector same(c);
  for (const auto& key : universe_->keys()) same.push_back(s.labels.same(key, d.labels));
  for (const auto& [name, port] : s.named_ports) {
    const SymEndpoint::Port& other = d.named_ports.at(name);
    same.push_back(port.declared == other.declared);
    same.push_back(z3::implies(port.declared, port.protocol == other.protocol && port.number == other.number));
  }
  return z3::implies(s.is_pod && d.is_pod && same_address, z3::mk_and(same));
}

z3::expr FlowWorld::in_cidr(const Cidr& cidr, const SymEndpoint& ep) const {
  const int bits = cidr.address.bits();
  const U128 base = address_value(cidr.address);
  const int host = bits - cidr.prefix;
  const U128 span = host >= 128 ? ~static_cast<U128>(0) : ((static_cast<U128>(1) << host) - 1);
  const U128 hi = base | span;
  if (cidr.address.family == 4) {
    const z3::expr lo_e = ctx_->int_val(static_cast<std::int64_t>(base));
    const z3::expr hi_e = ctx_->int_val(static_cast<std::int64_t>(hi));
    return !packet_.v6 && ep.ip4 >= lo_e && ep.ip4 <= hi_e;
  }
  const z3::expr lo_e = ctx_->int_val(u128_str(base).c_str());
  const z3::expr hi_e = ctx_->int_val(u128_str(hi).c_str());
  return packet_.v6 && ep.ip6 >= lo_e && ep.ip6 <= hi_e;
}

const std::vector<AddressSet>& FlowWorld::address_sets(const Model& model) {
  auto it = address_sets_.find(&model);
  if (it != address_sets_.end()) return it->second;
  std::vector<AddressSet> sets;
  for (const auto& ns : model.network_sets)
    sets.push_back({ns.effective_labels.empty() ? ns.labels : ns.effective_labels, ns.nets});
  for (const auto& ep : model.endpoints) {
    if (ep.kind != engine::EndpointKind::kHostEndpoint) continue;
    AddressSet set{ep.effective_labels.empty() ? ep.labels : ep.effective_labels, {}};
    for (const auto& ip : ep.ips) set.nets.push_back(Cidr{ip, ip.bits()});
    sets.push_back(std::move(set));
  }
  return address_sets_.emplace(&model, std::move(sets)).first->second;
}

z3::expr FlowWorld::selector_matches(const Model& model, const selector::Selector& sel, const SymEndpoint& ep) {
  const auto key = std::make_tuple(static_cast<const void*>(&model), static_cast<const void*>(&sel.root()),
                                   static_cast<const void*>(&ep));
  if (auto it = selector_cache_.find(key); it != selector_cache_.end()) return it->second;
  z3::expr_vector any(*ctx_);
  any.push_back(ep.is_pod && ep.labels.matches(sel.root()));
  const engine::SelectorMatcher matcher(sel);
  for (const auto& set : address_sets(model))
    if (matcher.matches(set.labels))
      for (const auto& cidr : set.nets) any.push_back(in_cidr(cidr, ep));
  z3::expr out = z3::mk_or(any);
  selector_cache_.emplace(key, out);
  return out;
}

z3::expr FlowWorld::applies(const Policy& policy, const SymEndpoint& self) {
  if (!policy.effective_selector) return self.is_pod;
  return self.is_pod && self.labels.matches(policy.effective_selector->root());
}

z3::expr FlowWorld::port_matches(const engine::PortSpec& spec, const engine::EntityRule& er, const Model& model,
                                 const SymEndpoint& ep, const z3::expr& port,
                                 const std::optional<engine::Protocol>& rule_proto) {
  (void)model;
  const z3::expr& proto = packet_.protocol;
  if (!spec.is_named())
    return (proto == 6 || proto == 17 || proto == 132) && port >= static_cast<int>(spec.min) &&
           port <= static_cast<int>(spec.max);
  const auto& np = ep.named_ports.at(spec.name);
  z3::expr m = ep.is_pod && np.declared && proto == np.protocol && port == np.number;
  if (er.effective_selector) m = m && ep.labels.matches(er.effective_selector->root());
  if (rule_proto) m = m && np.protocol == static_cast<int>(rule_proto->number);
  return m;
}

z3::expr FlowWorld::entity_matches(const Model& model, const engine::EntityRule& er, const SymEndpoint& ep,
                                   const z3::expr& port) {
  (void)port;
  z3::context& c = *ctx_;
  z3::expr_vector all(c);
  if (er.services) {
    const std::string key = service_key(model, er, ep);
    auto it = std::find_if(service_matches_.begin(), service_matches_.end(),
                           [&](const ServiceMatch& s) { return s.key == key; });
    if (it == service_matches_.end()) {
      service_matches_.push_back({c.bool_const(("svc[" + key + "]").c_str()), key});
      it = std::prev(service_matches_.end());
    }
    all.push_back(it->var);
  }
  if (!er.nets.empty()) {
    z3::expr_vector any(c);
    for (const auto& cidr : er.nets) any.push_back(in_cidr(cidr, ep));
    all.push_back(z3::mk_or(any));
  }
  if (!er.not_nets.empty()) {
    // CIDRs of the other family are dropped; a field left empty skips the
    // rule for that family (§4.4).
    bool v4 = false, v6 = false;
    for (const auto& cidr : er.not_nets) (cidr.address.family == 4 ? v4 : v6) = true;
    all.push_back(v4 && v6 ? c.bool_val(true) : (v4 ? !packet_.v6 : packet_.v6));
    for (const auto& cidr : er.not_nets) all.push_back(!in_cidr(cidr, ep));
  }
  if (er.effective_selector) all.push_back(selector_matches(model, *er.effective_selector, ep));
  if (er.effective_not_selector) all.push_back(!selector_matches(model, *er.effective_not_selector, ep));
  return z3::mk_and(all);
}

std::string FlowWorld::service_key(const Model& model, const engine::EntityRule& er, const SymEndpoint& ep) const {
  const std::string side = &ep == src_.get() ? "src:" : "dst:";
  std::string ns = er.services->ns;
  // An empty namespace is the policy's own (calico-semantics §3.5).
  for (const auto& p : model.policies) {
    if (!ns.empty()) break;
    for (const auto* rules : {&p.ingress, &p.egress})
      for (const auto& r : *rules)
        if (&r.source == &er || &r.destination == &er) ns = p.ns;
  }
  return side + ns + "/" + er.services->name;
}

z3::expr FlowWorld::rule_matches(const Model& model, const Rule& rule) {
  const auto key = std::make_pair(static_cast<const void*>(&model), static_cast<const void*>(&rule));
  if (auto it = rule_cache_.find(key); it != rule_cache_.end()) return it->second;
  z3::context& c = *ctx_;
  z3::expr_vector all(c);
  const SymPacket& p = packet_;
  std::optional<int> version = rule.ip_version;
  if (!version && rule.protocol) {
    if (rule.protocol->written == "ICMP") version = 4;
    if (rule.protocol->written == "ICMPv6") version = 6;
  }
  if (version) all.push_back(*version == 6 ? p.v6 : !p.v6);
  if (rule.protocol) all.push_back(p.protocol == static_cast<int>(rule.protocol->number));
  if (rule.not_protocol) all.push_back(p.protocol != static_cast<int>(rule.not_protocol->number));
  // icmp and notICMP only match ICMP packets (the evaluator; nft's `icmp
  // type` carries the protocol): notICMP is NOT(type and code) of an ICMP
  // packet, never a TCP one.
  const z3::expr icmp_packet = p.protocol == 1 || p.protocol == 58;
  const auto icmp = [&](const engine::IcmpMatch& m) {
    z3::expr e = c.bool_val(true);
    if (m.type) e = e && p.icmp_type == *m.type;
    if (m.code) e = e && p.icmp_code == *m.code;
    return e;
  };
  if (rule.icmp) all.push_back(icmp_packet && icmp(*rule.icmp));
  if (rule.not_icmp) all.push_back(icmp_packet && !icmp(*rule.not_icmp));
  all.push_back(entity_matches(model, rule.source, *src_, p.src_port));
  all.push_back(entity_matches(model, rule.destination, *dst_, p.dst_port));
  // Ports: OR within a list, AND across fields; the port is the entity's own.
  for (const auto* side : {&rule.source, &rule.destination}) {
    const SymEndpoint& ep = side == &rule.source ? *src_ : *dst_;
    const z3::expr& port = side == &rule.source ? p.src_port : p.dst_port;
    if (!side->ports.empty()) {
      z3::expr_vector any(c);
      for (const auto& spec : side->ports) any.push_back(port_matches(spec, *side, model, ep, port, rule.protocol));
      all.push_back(z3::mk_or(any));
    }
    for (const auto& spec : side->not_ports) all.push_back(!port_matches(spec, *side, model, ep, port, rule.protocol));
  }
  z3::expr out = z3::mk_and(all);
  rule_cache_.emplace(key, out);
  return out;
}

ChainTerm FlowWorld::chain(const Model& model, Direction direction, const Removal& removal,
                           const std::vector<const Policy*>* only) {
  if (!only) return chain(model, direction, order_policies(model, direction), removal, nullptr);
  const std::set<const Policy*> keep(only->begin(), only->end());
  return chain(model, direction, order_policies(model, direction), removal, &keep);
}

bool FlowWorld::depends_on_services(z3::solver& solver, const z3::model& model, const z3::expr& formula) const {
  (void)solver;
  (void)model;
  if (service_matches_.empty()) return false;
  // Conservative: any answer whose formula mentions a service boolean is
  // taken to depend on it (an unsat answer never does: it holds for every
  // value).
  std::set<std::string> names;
  for (const auto& s : service_matches_) names.insert(s.var.decl().name().str());
  std::set<unsigned> seen;
  std::vector<z3::expr> todo{formula};
  while (!todo.empty()) {
    const z3::expr e = todo.back();
    todo.pop_back();
    if (!e.is_app() || !seen.insert(e.id()).second) continue;
    if (e.num_args() == 0) {
      if (e.is_const() && names.contains(e.decl().name().str())) return true;
      continue;
    }
    for (unsigned i = 0; i < e.num_args(); ++i) todo.push_back(e.arg(i));
  }
  return false;
}

ChainTerm FlowWorld::chain(const Model& model, Direction direction, const std::vector<OrderedTier>& tiers,
                           const Removal& removal, const std::set<const Policy*>* only) {
  z3::context& c = *ctx_;
  const SymEndpoint& self = direction == Direction::kIngress ? *dst_ : *src_;
  ChainTerm out{direction, {}, c.bool_val(false), c.bool_val(false)};
  z3::expr_vector allow_events(c);
  z3::expr reach = c.bool_val(true);
  for (const auto& tier : tiers) {
    TierTerm tt{tier.name, tier.default_pass, {}, c.bool_val(false), c.bool_val(false)};
    z3::expr_vector any(c), pass_events(c);
    for (const Policy* policy : tier.policies) {
      if (policy == removal.policy) continue;
      if (only && !only->contains(policy)) continue;
      PolicyTerm pt{policy, applies(*policy, self), reach, {}};
      any.push_back(pt.applies);
      z3::expr rr = reach && pt.applies;
      const auto& rules = policy->rules(direction);
      for (std::size_t i = 0; i < rules.size(); ++i) {
        const Rule& rule = rules[i];
        if (&rule == removal.rule) continue;
        RuleTerm rt{&rule, static_cast<int>(i), rule_matches(model, rule), rr};
        const z3::expr fire = rr && rt.match;
        switch (rule.action) {
          case Action::kLog: break;
          case Action::kAllow: allow_events.push_back(fire); rr = rr && !rt.match; break;
          case Action::kDeny: rr = rr && !rt.match; break;
          case Action::kPass: pass_events.push_back(fire); rr = rr && !rt.match; break;
        }
        pt.rules.push_back(std::move(rt));
      }
      reach = (reach && !pt.applies) || rr;
      tt.policies.push_back(std::move(pt));
    }
    tt.any_applies = z3::mk_or(any);
    tt.reach_end = reach;
    const z3::expr passed = z3::mk_or(pass_events);
    reach = tier.default_pass ? (passed || reach) : (passed || (reach && !tt.any_applies));
    out.tiers.push_back(std::move(tt));
  }
  out.reach_default = reach;
  allow_events.push_back(reach);
  out.allowed = z3::mk_or(allow_events);
  return out;
}

z3::expr FlowWorld::allowed(const ChainTerm& egress, const ChainTerm& ingress) const {
  return z3::implies(src_->is_pod, egress.allowed) && z3::implies(dst_->is_pod, ingress.allowed);
}

}  // namespace rampart::verify::detail
