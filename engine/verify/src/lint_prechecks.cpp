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
  // A declared namespace of the inventory has exactly its labels; a fresh one any.
  const auto existing = std::find_if(model.namespaces.begin(), model.namespaces.end(),
                                     [&](const auto& n) { return n.name == ns_name && n.declared; });
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

std::optional<EndpointWitness> guess_pod(const Model& model, Labels labels, const std::string& ns_hint,
                                         const char* fresh, const IpAddress& ip) {
  std::string ns;
  for (const auto key : {kNamespaceKey, kNsNameKey, kNsMetaNameKey}) {
    const auto it = labels.find(key);
    if (it == labels.end()) continue;
    if (!ns.empty() && ns != it->second) return std::nullopt;
    ns = it->second;
  }
  const bool wants_ns_labels = std::any_of(labels.begin(), labels.end(), [](const auto& kv) {
    return kv.first.starts_with(kNsPrefix) && kv.first != kNsNameKey && kv.first != kNsMetaNameKey;
  });
  if (ns.empty()) ns = wants_ns_labels || ns_hint.empty() ? fresh : ns_hint;
  // A declared namespace of the inventory has exactly its labels; a fresh one any.
  const auto existing = std::find_if(model.namespaces.begin(), model.namespaces.end(),
                                     [&](const auto& n) { return n.name == ns && n.declared; });
  if (existing != model.namespaces.end()) {
    for (auto it = labels.begin(); it != labels.end();)
      it = it->first.starts_with(kNsPrefix) ? labels.erase(it) : std::next(it);
    for (const auto& [k, v] : existing->labels) labels[std::string(kNsPrefix) + k] = v;
  }
  labels[std::string(kNamespaceKey)] = ns;
  labels[std::string(kNsNameKey)] = ns;
  labels[std::string(kNsMetaNameKey)] = ns;
  labels[std::string(kOrchestratorKey)] = "k8s";
  std::string sa = "default";
  for (const auto key : {kServiceAccountKey, kSaNameKey})
    if (const auto it = labels.find(key); it != labels.end()) sa = it->second;
  labels[std::string(kServiceAccountKey)] = sa;
  labels[std::string(kSaNameKey)] = sa;
  EndpointWitness w;
  w.ns = ns;
  w.service_account = sa;
  w.effective_labels = std::move(labels);
  w.ip = ip;
  return w;
}

namespace {

// What the rules ask of one side of the flow.
struct SideGuess {
  Labels labels;
  bool pod = false;  // a selector names it: a pod
  std::optional<Cidr> net;
  std::vector<engine::NamedPort> ports;  // named ports it must declare
  std::optional<std::uint16_t> port;
};

IpAddress address_in(const std::optional<Cidr>& net, const char* fallback) {
  if (!net) return *IpAddress::parse(fallback);
  return IpAddress::v4(net->address.v4_value() + (net->prefix < 32 ? 1U : 0U));
}

}  // namespace

std::optional<FlowGuess> guess_flow(const Model& model, engine::Direction d, const std::string& cell_ns,
                                    const std::vector<const selector::Selector*>& self_selectors,
                                    const std::vector<const engine::Rule*>& rules) {
  SideGuess src, dst;
  SideGuess& self = d == engine::Direction::kIngress ? dst : src;
  self.pod = true;
  for (const auto* s : self_selectors) {
    if (!s) continue;
    auto next = candidate(s->root(), std::move(self.labels));
    if (!next) return std::nullopt;
    self.labels = std::move(*next);
  }
  std::optional<std::uint8_t> protocol;
  bool not_tcp = false;
  std::optional<engine::IcmpMatch> icmp;
  for (const engine::Rule* r : rules) {
    if (r->ip_version == 6) return std::nullopt;
    if (r->protocol && !protocol) protocol = r->protocol->number;
    if (r->not_protocol && r->not_protocol->number == engine::proto::kTcp) not_tcp = true;
    if (r->icmp && !icmp) icmp = r->icmp;
  }
  const std::uint8_t proto = protocol.value_or(not_tcp ? engine::proto::kUdp : engine::proto::kTcp);
  for (const engine::Rule* r : rules)
    for (auto [side, er] : {std::pair{&src, &r->source}, std::pair{&dst, &r->destination}}) {
      if (er->effective_selector) {
        auto next = candidate(er->effective_selector->root(), std::move(side->labels));
        if (!next) return std::nullopt;
        side->labels = std::move(*next);
        side->pod = true;
      }
      if (!er->nets.empty() && !side->net) {
        if (er->nets.front().address.family != 4) return std::nullopt;
        side->net = er->nets.front();
      }
      if (!er->ports.empty() && !side->port) {
        const engine::PortSpec& spec = er->ports.front();
        if (spec.is_named()) {
          side->port = static_cast<std::uint16_t>(5000 + side->ports.size());
          side->ports.push_back({spec.name, proto, *side->port});
        } else {
          side->port = spec.min > 0 ? spec.min : std::max<std::uint16_t>(spec.max, 1);
        }
      }
    }
  FlowGuess g;
  const auto end = [&](SideGuess& side, const std::string& ns_hint, const char* fresh, const char* ip)
      -> std::optional<EndpointWitness> {
    if (!side.pod) {
      EndpointWitness w;
      w.external = true;
      w.ip = address_in(side.net, "192.0.2.1");
      return w;
    }
    auto w = guess_pod(model, std::move(side.labels), ns_hint, fresh, address_in(side.net, ip));
    if (w) w->ports = side.ports;
    return w;
  };
  auto self_end = end(self, cell_ns, "rampart-fresh-namespace", "100.64.0.1");
  if (!self_end) return std::nullopt;
  SideGuess& peer = &self == &dst ? src : dst;
  auto peer_end = end(peer, self_end->ns, "rampart-fresh-namespace-2", "100.64.0.2");
  if (!peer_end) return std::nullopt;
  g.src = std::move(d == engine::Direction::kIngress ? *peer_end : *self_end);
  g.dst = std::move(d == engine::Direction::kIngress ? *self_end : *peer_end);
  g.packet.family = 4;
  g.packet.protocol = proto;
  if (proto == engine::proto::kTcp || proto == engine::proto::kUdp || proto == engine::proto::kSctp) {
    g.packet.src_port = src.port.value_or(1);
    g.packet.dst_port = dst.port.value_or(1);
  }
  if (proto == engine::proto::kIcmp) {
    g.packet.icmp_type = icmp ? icmp->type.value_or(0) : 0;
    g.packet.icmp_code = icmp ? icmp->code.value_or(0) : 0;
  }
  return g;
}

namespace {

bool numeric_ports_disjoint(const std::vector<engine::PortSpec>& a, const std::vector<engine::PortSpec>& b) {
  if (a.empty() || b.empty()) return false;
  for (const auto& x : a)
    for (const auto& y : b) {
      if (x.is_named() || y.is_named()) return false;
      if (x.min <= y.max && y.min <= x.max) return false;
    }
  return true;
}

bool nets_disjoint(const std::vector<Cidr>& a, const std::vector<Cidr>& b) {
  if (a.empty() || b.empty()) return false;
  for (const auto& x : a)
    for (const auto& y : b)
      if (x.contains(y) || y.contains(x)) return false;  // CIDRs overlap only by containment
  return true;
}

bool peers_disjoint(const engine::EntityRule& a, const engine::EntityRule& b) {
  if (numeric_ports_disjoint(a.ports, b.ports) || nets_disjoint(a.nets, b.nets)) return true;
  if (a.effective_selector && b.effective_selector) {
    Restriction ra, rb;
    restrict(a.effective_selector->root(), ra);
    restrict(b.effective_selector->root(), rb);
    if (!compatible(ra, rb)) return true;
  }
  return false;
}

}  // namespace

bool surely_disjoint(const engine::Rule& a, const engine::Rule& b) {
  if (a.protocol && b.protocol && a.protocol->number != b.protocol->number) return true;
  if (a.ip_version && b.ip_version && *a.ip_version != *b.ip_version) return true;
  return peers_disjoint(a.source, b.source) || peers_disjoint(a.destination, b.destination);
}

}  // namespace rampart::verify::detail::lint
