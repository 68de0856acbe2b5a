// The common pitfalls: RV102 ignored directions, RV103 broad allows,
// RV101 DNS blocked by egress isolation, RV105 Kubernetes policies
// overridden by earlier Calico policies.
#include "linter.h"

namespace rampart::verify::detail::lint {

// ---- RV102 ------------------------------------------------------------------
void Linter::check_ignored_directions() {
  Sink& sink = sink_;
  Timer timer{&sink, "ignored-direction"};
  for (const auto& p : shared_.model.policies)
    for (Direction d : {Direction::kIngress, Direction::kEgress})
      if (!p.rules(d).empty() && !p.governs(d))
        sink.add(kRuleIgnoredDirection, Severity::kWarning,
                 "policy " + p.qualified_name() + " has " + dir_name(d) + " rules but its types do not list " +
                     (d == Direction::kIngress ? "Ingress" : "Egress") + ": the rules are ignored",
                 p.rules(d).front().where.known() ? p.rules(d).front().where : p.where);
}

// ---- RV103 (only the rule itself: no chain) ---------------------------------
// A documentation address outside the cluster that the peer does not
// match, found by evaluating the peer's formula on it (exact: such an
// external endpoint is a well-formed one).
bool Linter::some_external_ipv4_unmatched(Cell& c, const z3::expr& m, const SymEndpoint& other) {
  for (const char* text : {"192.0.2.1", "198.51.100.7", "203.0.113.9", "100.64.0.1"}) {
    const auto ip = IpAddress::parse(text);
    if (!ip) continue;
    z3::expr_vector from(c.ctx()), to(c.ctx());
    from.push_back(other.is_pod);
    to.push_back(c.ctx().bool_val(false));
    from.push_back(c.world().packet().v6);
    to.push_back(c.ctx().bool_val(false));
    from.push_back(other.ip4);
    to.push_back(c.ctx().int_val(static_cast<std::int64_t>(ip->v4_value())));
    if (z3::expr(m).substitute(from, to).simplify().is_false()) return true;
  }
  return false;
}

void Linter::check_broad_allow(const Policy& p, Cell& c, Sink& sink) {
  Timer timer{&sink, "broad-allow"};
  for (Direction d : {Direction::kIngress, Direction::kEgress}) {
    if (!p.governs(d)) continue;
    const auto& rules = p.rules(d);
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const Rule& r = rules[i];
      if (r.action != Action::kAllow || uses_services(r)) continue;
      const engine::EntityRule& peer = d == Direction::kIngress ? r.source : r.destination;
      const bool restricted_looking = !peer.nets.empty() || !peer.not_nets.empty() || !peer.selector.empty() ||
                                      !peer.namespace_selector.empty() || !peer.not_selector.empty() ||
                                      peer.effective_selector || peer.effective_not_selector;
      if (!restricted_looking) continue;
      SymEndpoint& other = d == Direction::kIngress ? c.world().src() : c.world().dst();
      const z3::expr m = c.world().entity_matches(shared_.model, peer, other, c.ctx().int_val(0));
      const std::string name = rule_name(p, d, static_cast<int>(i));
      const z3::expr v4 = !c.world().packet().v6;
      const bool ipv4_escapes = shared_.options.slicing && some_external_ipv4_unmatched(c, m, other);
      if (ipv4_escapes && bare_pod_unmatched(c, m, other)) continue;
      if (!ipv4_escapes && c.ask(v4 && !m, sink, "broad-allow", r.where, name) == SatResult::kUnsat) {
        sink.add(kRuleBroadAllow, Severity::kWarning,
                 name + " allows every IPv4 peer, inside and outside the cluster, although its " +
                     (d == Direction::kIngress ? "source" : "destination") + " looks restricted",
                 r.where);
      } else if (c.ask(other.is_pod && !m, sink, "broad-allow", r.where, name) == SatResult::kUnsat) {
        sink.add(kRuleBroadAllow, Severity::kNote,
                 name + " allows every pod of every namespace, although its " +
                     (d == Direction::kIngress ? "source" : "destination") + " looks restricted",
                 r.where);
      }
    }
  }
}

// A pod with no labels of its own in a namespace that does not exist yet,
// that the peer does not match (evaluated on the formula, exact).
bool Linter::bare_pod_unmatched(Cell& c, const z3::expr& m, const SymEndpoint& other) {
  const LabelUniverse& u = c.universe();
  z3::context& ctx = c.ctx();
  z3::expr_vector from(ctx), to(ctx);
  std::map<std::string, int, std::less<>> none;
  const auto fresh = [&](std::string_view key, int j, const char* text) {
    return u.is_string(key) ? string_literal(ctx, text) : ctx.int_val(u.literal_count() + j);
  };
  for (const auto& key : u.keys()) {
    const SymLabel& l = other.labels.at(key);
    from.push_back(l.present);
    if (key == kNamespaceKey || key == kNsNameKey || key == kNsMetaNameKey) {
      to.push_back(ctx.bool_val(true));
      from.push_back(l.value);
      to.push_back(fresh(key, 0, "rampart-fresh-namespace"));
    } else if (key == kServiceAccountKey || key == kSaNameKey) {
      to.push_back(ctx.bool_val(true));
      from.push_back(l.value);
      to.push_back(fresh(key, 1, "default"));
    } else if (key == kOrchestratorKey) {
      to.push_back(ctx.bool_val(true));
      from.push_back(l.value);
      to.push_back(other.labels.value_of(key, "k8s", none));
    } else {
      to.push_back(ctx.bool_val(false));
    }
  }
  from.push_back(other.is_pod);
  to.push_back(ctx.bool_val(true));
  from.push_back(c.world().packet().v6);
  to.push_back(ctx.bool_val(false));
  from.push_back(other.ip4);
  to.push_back(ctx.int_val(static_cast<std::int64_t>(IpAddress::parse("100.64.0.1")->v4_value())));
  return z3::expr(m).substitute(from, to).simplify().is_false();
}

// ---- RV101 ------------------------------------------------------------------
namespace {

// Keys a selector reads.
void keys_of(const selector::Node& n, std::set<std::string>& out) {
  if (!n.key.empty()) out.insert(n.key);
  for (const auto& c : n.children) keys_of(*c, out);
}

// One DNS pod the check sends its query to.
struct DnsPod {
  EndpointWitness pod;
  // From the inventory: its labels and named ports are the ones to use (and
  // its address, when known). Otherwise the pod as Kubernetes deploys
  // CoreDNS: no labels besides k8s-app, any address.
  bool real = false;
  std::optional<IpAddress> ip4, ip6;
};

// The inventory's kube-dns pods (kube-system, k8s-app=kube-dns) when it has
// some; else one as the CoreDNS Deployment of kubeadm and OKE declares it:
// ports dns UDP 53, dns-tcp TCP 53, metrics TCP 9153. Rules often allow DNS
// by those names, so a pod without them would make the check report a
// policy that does allow DNS.
std::vector<DnsPod> dns_pods(const engine::Model& model) {
  std::vector<DnsPod> out;
  for (const auto& e : model.endpoints) {
    if (e.kind != engine::EndpointKind::kPod || e.ns != "kube-system") continue;
    const auto app = e.labels.find("k8s-app");
    if (app == e.labels.end() || app->second != "kube-dns") continue;
    DnsPod d;
    d.real = true;
    d.pod.ns = e.ns;
    d.pod.service_account = e.service_account;
    d.pod.labels = e.labels;
    d.pod.effective_labels = e.effective_labels;
    d.pod.ports = e.ports;
    for (const auto& ip : e.ips) {
      if (ip.family == 4 && !d.ip4) d.ip4 = ip;
      if (ip.family == 6 && !d.ip6) d.ip6 = ip;
    }
    // The guess's address (the query is IPv4 there).
    d.pod.ip = d.ip4.value_or(*IpAddress::parse("100.64.0.53"));
    // Replicas of one Deployment without addresses ask the same question.
    const bool seen = std::any_of(out.begin(), out.end(), [&](const DnsPod& o) {
      return !d.ip4 && !d.ip6 && !o.ip4 && !o.ip6 && o.pod.effective_labels == d.pod.effective_labels &&
             std::equal(o.pod.ports.begin(), o.pod.ports.end(), d.pod.ports.begin(), d.pod.ports.end(),
                        [](const auto& a, const auto& b) {
                          return a.name == b.name && a.protocol == b.protocol && a.port == b.port;
                        });
    });
    if (!seen) out.push_back(std::move(d));
  }
  if (!out.empty()) return out;
  DnsPod d;
  d.pod = *guess_pod(model, {{"k8s-app", "kube-dns"}, {std::string(kNamespaceKey), "kube-system"}}, {}, "kube-system",
                     *IpAddress::parse("100.64.0.53"));
  d.pod.labels = {{"k8s-app", "kube-dns"}};
  d.pod.ports = {{"dns", engine::proto::kUdp, 53}, {"dns-tcp", engine::proto::kTcp, 53},
                 {"metrics", engine::proto::kTcp, 9153}};
  out.push_back(std::move(d));
  return out;
}

// Does the pod declare `name` as UDP 53?
bool declares_udp_53(const DnsPod& d, const std::string& name) {
  return std::any_of(d.pod.ports.begin(), d.pod.ports.end(), [&](const engine::NamedPort& np) {
    return np.name == name && np.protocol == engine::proto::kUdp && np.port == 53;
  });
}

// The destination endpoint is the DNS pod `d`. Labels: the notional pod
// has k8s-app=kube-dns and no other own label; a real pod its effective
// labels, a value no selector names standing for any such value (as the
// label space numbers them: exact). Named ports: exactly the pod's.
z3::expr is_dns_pod(Cell& x, const DnsPod& d) {
  FlowWorld& w = x.world();
  const SymEndpoint& ep = w.dst();
  const SymLabels& dl = ep.labels;
  const LabelUniverse& u = x.universe();
  z3::context& ctx = x.ctx();
  z3::expr_vector all(ctx);
  all.push_back(ep.is_pod);
  const auto value_is = [&](std::string_view key, const std::string& value) {
    const SymLabel& l = dl.at(key);
    if (u.is_string(key)) return l.present && l.value == string_literal(ctx, value);
    const int i = u.literal_index(value);
    return l.present && (i >= 0 ? l.value == ctx.int_val(i) : l.value >= ctx.int_val(u.literal_count()));
  };
  if (d.real) {
    for (const auto& key : u.keys()) {
      const auto it = d.pod.effective_labels.find(key);
      all.push_back(it == d.pod.effective_labels.end() ? !dl.at(key).present : value_is(key, it->second));
    }
    // Its address of the packet's family, when the manifest says it; a
    // query of the other family cannot reach a pod with addresses of one.
    const z3::expr& v6 = w.packet().v6;
    if (d.ip4) all.push_back(z3::implies(!v6, w.in_cidr(Cidr{*d.ip4, 32}, ep)));
    if (d.ip6) all.push_back(z3::implies(v6, w.in_cidr(Cidr{*d.ip6, 128}, ep)));
    if (d.ip4 && !d.ip6) all.push_back(!v6);
    if (d.ip6 && !d.ip4) all.push_back(v6);
  } else {
    all.push_back(value_is(kNamespaceKey, "kube-system"));
    all.push_back(value_is("k8s-app", "kube-dns"));
    for (const auto& key : u.keys())
      if (key != "k8s-app" && !key.starts_with(kNsPrefix) && !key.starts_with(kSaPrefix) &&
          !key.starts_with("projectcalico.org/"))
        all.push_back(!dl.at(key).present);
  }
  for (const auto& [name, port] : ep.named_ports) {
    const auto np = std::find_if(d.pod.ports.begin(), d.pod.ports.end(), [&](const auto& p) { return p.name == name; });
    all.push_back(np == d.pod.ports.end() ? !port.declared
                                          : port.declared && port.protocol == static_cast<int>(np->protocol) &&
                                                port.number == static_cast<int>(np->port));
  }
  return z3::mk_and(all);
}

// Does `r` match every DNS query of a pod it can see, to every DNS pod
// (UDP 53)? Syntactic, exact when true: no source criteria, UDP or any
// protocol, a port range holding 53 or a port name every DNS pod declares
// as UDP 53, and a destination selector that reads only what every such
// pod has in common and matches one of them.
bool allows_all_dns(const Rule& r, const std::vector<DnsPod>& pods) {
  if (r.action != Action::kAllow || uses_services(r) || r.has_http || r.ip_version == 6 || r.icmp || r.not_icmp ||
      r.not_protocol)
    return false;
  if (r.protocol && r.protocol->number != engine::proto::kUdp) return false;
  const engine::EntityRule& s = r.source;
  if (!s.nets.empty() || !s.not_nets.empty() || !s.selector.empty() || !s.not_selector.empty() ||
      !s.namespace_selector.empty() || !s.ports.empty() || !s.not_ports.empty() || s.service_accounts ||
      s.effective_selector || s.effective_not_selector)
    return false;
  const engine::EntityRule& t = r.destination;
  if (!t.nets.empty() || !t.not_nets.empty() || !t.not_ports.empty() || t.service_accounts || t.effective_not_selector)
    return false;
  if (!t.ports.empty() && std::none_of(t.ports.begin(), t.ports.end(), [&](const engine::PortSpec& ps) {
        if (ps.is_named())
          return std::all_of(pods.begin(), pods.end(), [&](const DnsPod& d) { return declares_udp_53(d, ps.name); });
        return ps.min <= 53 && 53 <= ps.max;
      }))
    return false;
  if (!t.effective_selector) return true;
  std::set<std::string> keys;
  keys_of(t.effective_selector->root(), keys);
  const std::set<std::string, std::less<>> fixed{"k8s-app", std::string(kNamespaceKey), std::string(kOrchestratorKey),
                                                 std::string(kNsNameKey), std::string(kNsMetaNameKey)};
  for (const auto& k : keys)
    if (!fixed.contains(k)) return false;
  return engine::SelectorMatcher(*t.effective_selector).matches(pods.front().pod.effective_labels);
}

}  // namespace

void Linter::check_dns(const Policy& p, const std::vector<Cell*>& cells, Sink& sink) {
  if (!p.governs(Direction::kEgress)) return;
  Timer timer{&sink, "dns-blocked"};
  const std::vector<DnsPod> pods = dns_pods(shared_.model);
  // Exact: evaluation that reaches p and finds only Allow (or Log) rules
  // before one that allows every DNS query is allowed.
  if (shared_.options.slicing) {
    for (const Rule& r : p.egress) {
      if (allows_all_dns(r, pods)) {
        ++sink.timing("dns-blocked").settled;
        return;
      }
      if (r.action != Action::kAllow && r.action != Action::kLog) break;
    }
  }
  // Evaluation reaches this policy (an earlier tier did not already
  // decide): the denial is this policy's isolation or comes after it.
  const auto blocked = [&](Cell& x, bool full) {
    FlowWorld& w = x.world();
    z3::expr_vector to_pod(x.ctx());
    for (const DnsPod& d : pods) to_pod.push_back(is_dns_pod(x, d));
    const z3::expr to_dns = z3::mk_or(to_pod) && w.packet().protocol == 17 && w.packet().dst_port == 53;
    const ChainTerm& chain = x.chain(p, Direction::kEgress, full);
    z3::expr reached = x.ctx().bool_val(false);
    for (const auto& tier : chain.tiers)
      for (const auto& pt : tier.policies)
        if (pt.policy == &p) reached = pt.reach;
    return x.in_cell(Direction::kEgress) && w.applies(p, w.src()) && reached && to_dns && !chain.allowed;
  };
  for (Cell* c : cells) {
    std::optional<z3::model> m;
    Cell* in = c;
    // The guess: a pod the policy selects asking the first DNS pod.
    auto g = guess(*c, p, Direction::kEgress, {});
    if (g) {
      g->dst = pods.front().pod;
      g->packet = PacketWitness{4, engine::proto::kUdp, 1, 53, {}, {}};
    }
    if (c->concrete(blocked(*c, true), g, sink, "dns-blocked", &m) ||
        ask_reaching(*c, p, Direction::kEgress, blocked, sink, "dns-blocked", p.where,
                     "DNS egress of " + p.qualified_name(), &m, &in) == SatResult::kSat) {
      sink.add(kRuleDnsBlocked, Severity::kWarning,
               "policy " + p.qualified_name() +
                   " isolates egress of pods that then cannot reach DNS (UDP 53 to kube-system/k8s-app=kube-dns)",
               p.where, in->witness_text(*m, &in->chain(p, Direction::kEgress)));
      return;
    }
  }
}

// ---- RV105 ------------------------------------------------------------------
// Some flow the rule matches is denied without reaching it. Tried first
// without the earlier tiers (local cell, witness confirmed concretely),
// then with one earlier policy at a time (the others pinned to not apply:
// then the full chain decides that flow the same way), then in full.
void Linter::check_k8s_overridden(const Policy& p, const std::vector<Cell*>& cells, Sink& sink) {
  if (p.kind != engine::PolicyKind::kKubernetesNetworkPolicy) return;
  Timer timer{&sink, "k8s-overridden"};
  for (Direction d : {Direction::kIngress, Direction::kEgress}) {
    if (!p.governs(d)) continue;
    const auto& rules = p.rules(d);
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const Rule& rule = rules[i];
      if (rule.action != Action::kAllow || uses_services(rule)) continue;
      const std::string name = rule_name(p, d, static_cast<int>(i));
      const auto overridden = [&](Cell& x, const ChainTerm& chain) {
        const RuleTerm* rt = find_rule(chain, &rule);
        return x.in_cell(d) && x.world().applies(p, x.self(d)) && rt->match && !rt->reach && !chain.allowed;
      };
      const auto report = [&](Cell& x, const z3::model& m) {
        sink.add(kRuleK8sOverridden, Severity::kNote,
                 name + " (Kubernetes NetworkPolicy) is overridden: for some flows it allows, an earlier Calico " +
                     "policy denies or passes first",
                 rule.where, x.witness_text(m, &x.chain(p, d)));
      };
      // Only Allow (or Log) rules before it in p: overriding needs a policy
      // before p in the chain.
      const bool allows_before = std::all_of(rules.begin(), rules.begin() + static_cast<std::ptrdiff_t>(i),
                                             [](const Rule& r) { return r.action == Action::kAllow || r.action == Action::kLog; });
      for (Cell* c : cells) {
        if (!find_rule(c->chain(p, d), &rule)) continue;
        // Exact: with nothing before p in the (sliced) chain, the rule is
        // reached unless an earlier rule of p allowed the flow.
        const auto& first = c->chain(p, d).tiers.front().policies;
        if (shared_.options.slicing && allows_before && !first.empty() && first.front().policy == &p) continue;
        const auto earlier = c->earlier(p, d);
        std::optional<z3::model> m;
        // Guesses first: a pod that p and one policy before it select, a
        // flow the rule matches and (when it has one) a Deny or Pass rule of
        // that policy matches, or none of its rules (end-of-tier drop).
        {
          const ChainTerm& chain = c->chain(p, d);
          const z3::expr q = overridden(*c, chain);
          int tries = 0;
          bool found = false;
          for (const auto& tier : chain.tiers) {
            for (const auto& pt : tier.policies) {
              if (pt.policy == &p || found || tries >= 48) break;
              std::vector<std::vector<const Rule*>> flows{{&rule}};
              for (const Rule& r : pt.policy->rules(d))
                if ((r.action == Action::kDeny || r.action == Action::kPass) && !uses_services(r) && flows.size() < 4)
                  flows.push_back({&rule, &r});
              for (const auto& flow : flows) {
                ++tries;
                if (c->concrete(q, guess(*c, p, d, flow, pt.policy), sink, "k8s-overridden", &m)) {
                  found = true;
                  break;
                }
              }
            }
            if (found || tries >= 48) break;
          }
          if (found) {
            report(*c, *m);
            break;
          }
        }
        if (c->local && c->local->has(p) && !earlier.empty()) {
          Cell& l = *c->local;
          if (l.ask(overridden(l, l.chain(p, d, false)), sink, "k8s-overridden", rule.where, name, &m, true) ==
              SatResult::kSat) {
            const EndpointWitness self = l.world().decode(*m, l.self(d));
            if (std::none_of(earlier.begin(), earlier.end(),
                             [&](const Policy* q) { return shared_.selects(*q, self.effective_labels); })) {
              report(l, *m);
              break;
            }
          }
        }
        bool found = false;
        std::size_t tried = shared_.options.slicing ? 0 : earlier.size();
        for (const Policy* g : earlier) {
          if (tried++ >= 8) break;
          std::vector<const Policy*> others;
          for (const Policy* q : earlier)
            if (q != g) others.push_back(q);
          const ChainTerm chain = c->chain_except(p, d, others);
          if (c->ask(overridden(*c, chain) && c->none_apply(others, d), sink, "k8s-overridden", rule.where, name, &m,
                     true) == SatResult::kSat) {
            report(*c, *m);
            found = true;
            break;
          }
        }
        if (found) break;
        if (c->ask(overridden(*c, c->chain(p, d)), sink, "k8s-overridden", rule.where, name, &m) == SatResult::kSat) {
          report(*c, *m);
          break;
        }
      }
    }
  }
}

}  // namespace rampart::verify::detail::lint
