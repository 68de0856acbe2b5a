#include <algorithm>

#include "reference.h"

namespace rampart::verify::test {

using engine::Action;
using engine::Direction;

namespace {

template <typename T>
const T& pick(std::mt19937& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}
int roll(std::mt19937& rng, int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

selector::Selector parse(const std::string& text) {
  auto s = selector::Selector::parse(text);
  if (!s) throw std::runtime_error("generator produced a bad selector: " + text);
  return *s;
}

const std::vector<std::string> kNamespaces = {"prod", "dev", "ops"};
const std::vector<std::string> kApps = {"web", "db", "api"};

engine::Protocol protocol(const std::string& name) {
  if (name == "TCP") return {6, "TCP"};
  if (name == "UDP") return {17, "UDP"};
  if (name == "ICMP") return {1, "ICMP"};
  return {132, "SCTP"};
}

engine::EntityRule peer(std::mt19937& rng, const engine::Policy& policy) {
  engine::EntityRule er;
  const std::string scope = policy.ns.empty() ? "" : "projectcalico.org/namespace == \"" + policy.ns + "\"";
  switch (roll(rng, 7)) {
    case 0: break;  // any peer
    case 1: {
      const std::string sel = random_pod_selector(rng);
      er.selector = sel;
      er.effective_selector = parse(scope.empty() ? sel : "(" + scope + ") && (" + sel + ")");
      break;
    }
    case 2: {
      const std::string ns = random_namespace_selector(rng);
      er.namespace_selector = ns;
      const std::string prefixed = canonical_text(*selector::prefix_keys(parse(ns).root_ptr(), "pcns."));
      er.effective_selector = parse(prefixed == "all()" ? "has(projectcalico.org/namespace)" : prefixed);
      break;
    }
    case 3: er.nets = {*Cidr::parse(pick(rng, std::vector<std::string>{"10.0.0.0/16", "10.0.1.0/24", "192.168.0.0/16", "0.0.0.0/0"}))}; break;
    case 4:
      er.not_nets = {*Cidr::parse(pick(rng, std::vector<std::string>{"10.0.0.0/16", "10.0.2.0/24"}))};
      break;
    case 5: {
      const std::string sel = random_pod_selector(rng);
      er.not_selector = sel;
      er.effective_not_selector = parse(sel);
      if (!scope.empty()) er.effective_selector = parse(scope);
      break;
    }
    default: {
      er.selector = "role == \"ext\"";
      er.effective_selector = parse(scope.empty() ? "role == \"ext\"" : "(" + scope + ") && role == \"ext\"");
      break;
    }
  }
  return er;
}

engine::Rule rule(std::mt19937& rng, const engine::Policy& policy, Direction d) {
  engine::Rule r;
  r.action = pick(rng, std::vector<Action>{Action::kAllow, Action::kAllow, Action::kDeny, Action::kPass, Action::kLog});
  const int p = roll(rng, 6);
  if (p == 1 || p == 2) r.protocol = protocol("TCP");
  if (p == 3) r.protocol = protocol("UDP");
  if (p == 4) {
    r.protocol = protocol("ICMP");
    if (roll(rng, 2)) r.icmp = engine::IcmpMatch{8, std::nullopt};
  }
  if (p == 5 && roll(rng, 2)) r.not_protocol = protocol("UDP");
  engine::EntityRule other = peer(rng, policy);
  engine::EntityRule self;
  // Destination ports (numeric need a port protocol; named ones need none).
  engine::EntityRule& dst_side = d == Direction::kIngress ? self : other;
  const bool port_proto = r.protocol && r.protocol->supports_ports();
  switch (roll(rng, 5)) {
    case 0: if (port_proto) dst_side.ports = {{80, 80, ""}}; break;
    case 1: if (port_proto) dst_side.ports = {{8000, 8100, ""}, {53, 53, ""}}; break;
    case 2: dst_side.ports = {{0, 0, "http"}}; break;
    case 3: if (port_proto) dst_side.not_ports = {{80, 80, ""}}; break;
    // Named notPorts with no protocol (or only notProtocol): ICMP and
    // protocol 47 packets satisfy them (calico-semantics §4.4).
    default: if (!r.protocol && roll(rng, 2)) dst_side.not_ports = {{0, 0, "http"}}; break;
  }
  if (d == Direction::kIngress) {
    r.source = other;
    r.destination = self;
  } else {
    r.source = self;
    r.destination = other;
  }
  return r;
}

}  // namespace

std::string random_pod_selector(std::mt19937& rng) {
  switch (roll(rng, 8)) {
    case 0: return "app == \"" + pick(rng, kApps) + "\"";
    case 1: return "app in {\"" + pick(rng, kApps) + "\", \"" + pick(rng, kApps) + "\"}";
    case 2: return "has(tier)";
    case 3: return "tier != \"be\"";
    case 4: return "app == \"" + pick(rng, kApps) + "\" && !has(tier)";
    case 5: return "all()";
    case 6: return "app starts with \"d\"";
    default: return "tier == \"fe\" || app == \"" + pick(rng, kApps) + "\"";
  }
}

std::string random_namespace_selector(std::mt19937& rng) {
  switch (roll(rng, 4)) {
    case 0: return "team == \"a\"";
    case 1: return "all()";
    case 2: return "kubernetes.io/metadata.name == \"" + pick(rng, kNamespaces) + "\"";
    default: return "team != \"a\"";
  }
}

Labels effective_pod_labels(const Labels& own, const std::string& ns, const Labels& ns_labels,
                            const std::string& sa) {
  Labels out = own;
  out["projectcalico.org/namespace"] = ns;
  out["projectcalico.org/orchestrator"] = "k8s";
  out["projectcalico.org/serviceaccount"] = sa;
  out["pcns.projectcalico.org/name"] = ns;
  for (const auto& [k, v] : ns_labels) out["pcns." + k] = v;
  out["pcsa.projectcalico.org/name"] = sa;
  return out;
}

GeneratedCluster generate_cluster(std::mt19937& rng) {
  GeneratedCluster g;
  engine::Model& m = g.model;
  for (const auto& name : kNamespaces) {
    engine::Namespace ns{name, {{"kubernetes.io/metadata.name", name}}, {}};
    if (roll(rng, 2)) ns.labels["team"] = roll(rng, 2) ? "a" : "b";
    m.namespaces.push_back(ns);
  }
  const int pods = 2 + roll(rng, 5);
  for (int i = 0; i < pods; ++i) {
    const auto& ns = pick(rng, m.namespaces);
    EndpointWitness w;
    w.ns = ns.name;
    w.service_account = "default";
    w.labels["app"] = pick(rng, kApps);
    if (roll(rng, 2)) w.labels["tier"] = roll(rng, 2) ? "fe" : "be";
    w.namespace_labels = ns.labels;
    w.effective_labels = effective_pod_labels(w.labels, w.ns, ns.labels, w.service_account);
    w.ip = IpAddress::v4((10u << 24) | (static_cast<std::uint32_t>(roll(rng, 3)) << 8) | static_cast<std::uint32_t>(i + 1));
    if (roll(rng, 2)) w.ports.push_back({"http", 6, static_cast<std::uint16_t>(roll(rng, 2) ? 8080 : 80)});
    g.pods.push_back(w);
    engine::Endpoint ep;
    ep.ns = w.ns;
    ep.name = "pod" + std::to_string(i);
    ep.labels = w.labels;
    ep.effective_labels = w.effective_labels;
    ep.ips = {w.ip};
    ep.ports = w.ports;
    m.endpoints.push_back(ep);
  }
  if (roll(rng, 2)) {
    engine::NetworkSet set;
    set.name = "ext";
    set.labels = {{"role", "ext"}};
    set.effective_labels = set.labels;
    set.nets = {*Cidr::parse("192.168.1.0/24")};
    m.network_sets.push_back(set);
  }
  m.tiers.push_back({"security", 100.0, roll(rng, 2) ? Action::kPass : Action::kDeny, true, {}});
  m.tiers.push_back({"default", 1e6, Action::kDeny, true, {}});
  const int policies = 1 + roll(rng, 4);
  for (int i = 0; i < policies; ++i) {
    engine::Policy p;
    const int kind = roll(rng, 3);
    p.kind = kind == 0 ? engine::PolicyKind::kGlobalNetworkPolicy
                       : (kind == 1 ? engine::PolicyKind::kNetworkPolicy : engine::PolicyKind::kKubernetesNetworkPolicy);
    p.name = "p" + std::to_string(i);
    if (p.kind != engine::PolicyKind::kGlobalNetworkPolicy) p.ns = pick(rng, kNamespaces);
    p.tier = p.kind == engine::PolicyKind::kKubernetesNetworkPolicy ? "default" : (roll(rng, 2) ? "security" : "default");
    const int order = roll(rng, 4);
    if (p.kind == engine::PolicyKind::kKubernetesNetworkPolicy) {
      p.order = 1000;
    } else if (order > 0) {
      p.order = order == 1 ? 10.0 : 100.0;
    }
    p.selector = random_pod_selector(rng);
    p.effective_selector = parse(p.ns.empty() ? p.selector
                                              : "(" + p.selector + ") && projectcalico.org/namespace == \"" + p.ns + "\"");
    p.types_ingress = roll(rng, 3) != 0;
    p.types_egress = !p.types_ingress || roll(rng, 2);
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      auto& rules = d == Direction::kIngress ? p.ingress : p.egress;
      const int n = roll(rng, 4);
      for (int j = 0; j < n; ++j) {
        rules.push_back(rule(rng, p, d));
        if (p.kind == engine::PolicyKind::kKubernetesNetworkPolicy) rules.back().action = Action::kAllow;
      }
    }
    m.policies.push_back(std::move(p));
  }
  return g;
}

std::vector<PacketWitness> probe_packets() {
  std::vector<PacketWitness> out;
  for (std::uint16_t port : {80, 53, 8080, 8050, 443}) {
    out.push_back({4, 6, 40000, port, std::nullopt, std::nullopt});
    out.push_back({4, 17, 40000, port, std::nullopt, std::nullopt});
  }
  out.push_back({4, 132, 40000, 80, std::nullopt, std::nullopt});
  out.push_back({4, 1, 0, 0, 8, 0});
  out.push_back({4, 1, 0, 0, 0, 0});
  out.push_back({4, 47, 0, 0, std::nullopt, std::nullopt});
  return out;
}

}  // namespace rampart::verify::test
