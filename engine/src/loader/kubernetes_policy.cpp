// networking.k8s.io/v1 NetworkPolicy → Policy, exactly as Calico converts it
// (calico-semantics.md §4.9, conversion.go K8sNetworkPolicyToCalico): tier
// default, order 1000, one Allow rule per (protocol, peer), protocols sorted
// by name, ports merged per protocol (SimplifyPorts). Kubernetes' own API
// validation (endPort, ipBlock, peers, policyTypes) is checked on the way.
#include <algorithm>
#include <map>

#include "../validate/checks.h"
#include "readers.h"

namespace rampart::engine::loader {
namespace {

constexpr std::string_view kOrchestratorClause = "projectcalico.org/orchestrator == 'k8s'";

enum class SelectorType { kPod, kNamespace };

// metav1.LabelSelector → Calico selector text (k8sSelectorToCalico).
std::optional<std::string> convert_selector(Sink& sink, const Node& node, const std::string& path,
                                            SelectorType type) {
  std::vector<std::string> terms;
  if (type == SelectorType::kPod) terms.emplace_back(kOrchestratorClause);
  if (is_null(node)) {
    std::string out;
    for (const auto& t : terms) out += t;
    return out;
  }
  MapView sel(sink, node, path, {"matchLabels", "matchExpressions"});
  if (!sel.is_map()) return std::nullopt;
  const int errors = sink.errors();
  const Labels match_labels = read_labels(sink, sel.get("matchLabels"), path + ".matchLabels");
  const auto expressions = sel.list("matchExpressions");
  if (type == SelectorType::kNamespace && match_labels.empty() && expressions.empty()) return "all()";
  for (const auto& [key, value] : match_labels) terms.push_back(key + " == '" + value + "'");
  for (std::size_t i = 0; i < expressions.size(); ++i) {
    const std::string epath = path + ".matchExpressions[" + std::to_string(i) + "]";
    MapView e(sink, expressions[i], epath, {"key", "operator", "values"});
    if (is_null(expressions[i])) {  // an empty requirement: refused, not "no requirement"
      sink.report("RP5010", epath + ".key is required", expressions[i]);
      continue;
    }
    if (!e.is_map()) continue;
    const auto key = e.str("key");
    const auto op = e.str("operator");
    const auto values = e.string_list("values");
    if (!key || key->empty()) {
      sink.report("RP5010", epath + ".key is required", expressions[i]);
      continue;
    }
    if (auto problem = checks::qualified_name(*key)) sink.report_at("RP5010", "label selector " + *problem, e.where("key"));
    // The API server refuses a value that is no label value; pasted into
    // the selector text unchecked, a quote in it would rewrite the selector.
    for (const auto& [value, item] : values)
      if (auto problem = checks::label_value(value))
        sink.report("RP5010", epath + ".values: \"" + value + "\": " + *problem, item);
    if (sink.errors() != errors) continue;
    std::string joined;
    for (std::size_t v = 0; v < values.size(); ++v) joined += (v ? "', '" : "") + values[v].first;
    if (op == "In" || op == "NotIn") {
      if (values.empty()) {
        sink.report_at("RP5010", epath + ": operator " + *op + " needs at least one value", e.where("operator"));
        continue;
      }
      terms.push_back(*key + (op == "In" ? " in { '" : " not in { '") + joined + "' }");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (!values.empty()) {
        sink.report_at("RP5010", epath + ": operator " + *op + " takes no values", e.where("values"));
        continue;
      }
      terms.push_back((op == "Exists" ? "has(" : "! has(") + *key + ")");
    } else {
      sink.report_at("RP5010",
                     epath + ".operator " + (op ? "\"" + *op + "\"" : std::string("(missing)")) +
                         " is not one of In, NotIn, Exists, DoesNotExist",
                     e.where("operator"));
    }
  }
  if (sink.errors() != errors) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < terms.size(); ++i) out += (i ? " && " : "") + terms[i];
  return out;
}

struct Peer {
  EntityRule fields;  // selector / namespaceSelector / nets / notNets
};

std::optional<Peer> convert_peer(Sink& sink, const Node& node, const std::string& path) {
  // A bare "-" is an empty peer to the API server, which refuses it; dropped
  // silently it could leave the rule with no peer, i.e. every peer.
  if (is_null(node)) {
    sink.report("RP5012", path + " must set ipBlock, podSelector or namespaceSelector", node);
    return std::nullopt;
  }
  MapView p(sink, node, path, {"podSelector", "namespaceSelector", "ipBlock"});
  if (!p.is_map()) return std::nullopt;
  Peer peer;
  peer.fields.where = sink.at(node);
  // A selector key with no value is a nil pointer to the API: absent, not
  // {}. "namespaceSelector:" alone would otherwise read as every namespace
  // where Kubernetes means the policy's own (calico-semantics.md §4.9).
  for (const char* key : {"podSelector", "namespaceSelector"})
    if (p.key_node(key) && !p.has(key))
      sink.report_at("RP5013",
                     path + "." + key + " has no value, so it is absent" +
                         (std::string_view(key) == "namespaceSelector" ? " (the policy's own namespace)" : "") +
                         "; write {} to select all",
                     sink.at(*p.key_node(key)));
  const bool has_pod = p.has("podSelector");
  const bool has_ns = p.has("namespaceSelector");
  const bool has_block = p.has("ipBlock");
  if (!has_pod && !has_ns && !has_block) {
    sink.report("RP5012", path + " must set ipBlock, podSelector or namespaceSelector", node);
    return std::nullopt;
  }
  if (has_block && (has_pod || has_ns)) {
    sink.report_at("RP5004", path + ": ipBlock cannot be combined with podSelector or namespaceSelector",
                   p.key_where("ipBlock"));
    return std::nullopt;
  }
  if (has_block) {
    MapView b(sink, p.get("ipBlock"), path + ".ipBlock", {"cidr", "except"});
    const auto cidr_text = b.str("cidr");
    if (!cidr_text) {
      sink.report_at("RP0014", path + ".ipBlock.cidr is required", p.where("ipBlock"));
      return std::nullopt;
    }
    auto cidr = Cidr::parse(*cidr_text);
    if (!cidr || cidr_text->find('/') == std::string::npos) {
      sink.report_at("RP5006", path + ".ipBlock.cidr \"" + *cidr_text + "\" is not a valid CIDR", b.where("cidr"));
      return std::nullopt;
    }
    peer.fields.nets.push_back(*cidr);
    bool ok = true;
    for (const auto& [text, item] : b.string_list("except")) {
      auto except = Cidr::parse(text);
      if (!except || text.find('/') == std::string::npos) {
        sink.report("RP5006", path + ".ipBlock.except \"" + text + "\" is not a valid CIDR", item);
        ok = false;
        continue;
      }
      if (except->address.family != cidr->address.family || !cidr->contains(*except) || except->prefix <= cidr->prefix) {
        sink.report("RP5005", "except \"" + text + "\" is not a strict subset of cidr \"" + *cidr_text + "\"", item,
                    {{b.where("cidr"), "the ipBlock's cidr"}});
        ok = false;
        continue;
      }
      peer.fields.not_nets.push_back(*except);
    }
    if (!ok) return std::nullopt;
    return peer;
  }
  auto pod = convert_selector(sink, p.get("podSelector"), path + ".podSelector", SelectorType::kPod);
  std::optional<std::string> ns = std::string();
  if (has_ns) {
    ns = convert_selector(sink, p.get("namespaceSelector"), path + ".namespaceSelector", SelectorType::kNamespace);
  }
  if (!pod || !ns) return std::nullopt;
  peer.fields.selector = *pod;
  peer.fields.namespace_selector = *ns;
  return peer;
}

struct PortGroup {
  bool all_ports = false;
  std::vector<PortSpec> ports;
};

// Calico's SimplifyPorts: numeric ports sorted and coalesced, named ports after.
std::vector<PortSpec> simplify_ports(std::vector<PortSpec> ports) {
  std::vector<PortSpec> numeric, named;
  for (auto& p : ports) (p.is_named() ? named : numeric).push_back(std::move(p));
  std::sort(numeric.begin(), numeric.end(), [](const PortSpec& a, const PortSpec& b) {
    return a.min != b.min ? a.min < b.min : a.max < b.max;
  });
  std::vector<PortSpec> out;
  for (const auto& p : numeric) {
    if (!out.empty() && static_cast<int>(p.min) <= static_cast<int>(out.back().max) + 1) {
      out.back().max = std::max(out.back().max, p.max);
    } else {
      out.push_back(p);
    }
  }
  for (auto& p : named)
    if (std::none_of(out.begin(), out.end(), [&](const PortSpec& q) { return q.name == p.name; }))
      out.push_back(std::move(p));
  return out;
}

// ports → protocol name → group; nullopt on a validation error.
std::optional<std::map<std::string, PortGroup>> convert_ports(Sink& sink, const std::vector<Node>& items,
                                                              const std::string& path) {
  std::map<std::string, PortGroup> groups;  // sorted by protocol name, as Calico orders them
  const int errors = sink.errors();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string ppath = path + "[" + std::to_string(i) + "]";
    MapView p(sink, items[i], ppath, {"protocol", "port", "endPort"});
    if (!p.is_map() && !is_null(items[i])) continue;
    std::string protocol = p.str("protocol").value_or("TCP");
    if (protocol != "TCP" && protocol != "UDP" && protocol != "SCTP") {
      sink.report_at("RP5007", ppath + ".protocol \"" + protocol + "\" must be TCP, UDP or SCTP", p.where("protocol"));
      continue;
    }
    PortGroup& group = groups[protocol];
    const Node port_node = p.get("port");
    const auto end_port = p.integer("endPort");
    if (is_null(port_node)) {
      if (p.has("endPort")) sink.report_at("RP5003", ppath + ": endPort requires port", p.where("endPort"));
      group.all_ports = true;
      continue;
    }
    if (!port_node.is_scalar()) {
      sink.report("RP0012", ppath + ".port must be a number or a name, not " + describe(port_node), port_node);
      continue;
    }
    if (auto other = yaml11_reading(port_node)) {
      sink.report("RP0012", ppath + ".port " + port_node.scalar() + " is " + *other +
                                " to YAML 1.1 (kubectl): write the port in decimal, or quote a name",
                  port_node);
      continue;
    }
    const std::string& text = port_node.scalar();
    const bool quoted = port_node.quoted();
    const auto number = quoted ? std::nullopt : parse_integer(text);
    if (!number) {
      if (auto problem = checks::iana_port_name(text)) {
        sink.report("RP5008", ppath + ".port: " + *problem, port_node);
        continue;
      }
      if (end_port) {
        sink.report_at("RP5002", ppath + ": endPort cannot be used with the named port \"" + text + "\"",
                       p.where("endPort"));
        continue;
      }
      group.ports.push_back(PortSpec{0, 0, text});
      continue;
    }
    if (*number < 1 || *number > 65535) {
      sink.report("RP5008", ppath + ".port " + text + " must be between 1 and 65535", port_node);
      continue;
    }
    long long last = *number;
    if (end_port) {
      if (*end_port < *number || *end_port > 65535) {
        sink.report_at("RP5001",
                       "illegal port range " + text + "-" + std::to_string(*end_port) +
                           ": start and end values of the port range should be in {1-65535} and end may not be "
                           "less than start",
                       p.where("endPort"), {{p.where("port"), "the range starts here"}});
        continue;
      }
      last = *end_port;
    }
    group.ports.push_back(PortSpec{static_cast<std::uint16_t>(*number), static_cast<std::uint16_t>(last), {}});
  }
  if (sink.errors() != errors) return std::nullopt;
  return groups;
}

// One k8s rule → Calico rules appended to `out`.
bool convert_rule(Sink& sink, const Node& node, const std::string& path, Direction direction,
                  std::vector<Rule>& out) {
  const bool ingress = direction == Direction::kIngress;
  const char* peers_key = ingress ? "from" : "to";
  MapView r(sink, node, path, {peers_key, "ports"});
  if (!r.is_map() && !is_null(node)) return false;
  const int errors = sink.errors();
  std::vector<EntityRule> peers;
  const auto peer_nodes = r.list(peers_key);
  for (std::size_t i = 0; i < peer_nodes.size(); ++i)
    if (auto peer = convert_peer(sink, peer_nodes[i], path + "." + peers_key + "[" + std::to_string(i) + "]"))
      peers.push_back(std::move(peer->fields));
  auto groups = convert_ports(sink, r.list("ports"), path + ".ports");
  if (!groups || sink.errors() != errors) return false;
  if (peers.empty()) peers.emplace_back();  // no from/to: every peer

  auto emit = [&](std::optional<Protocol> protocol, const std::vector<PortSpec>& ports) {
    for (const auto& peer : peers) {
      Rule rule;
      rule.action = Action::kAllow;
      rule.protocol = protocol;
      rule.where = sink.at(node);
      EntityRule& other = ingress ? rule.source : rule.destination;
      other = peer;
      if (!other.where.known()) other.where = rule.where;
      rule.destination.ports = ports;
      if (!rule.destination.where.known()) rule.destination.where = rule.where;
      if (!rule.source.where.known()) rule.source.where = rule.where;
      out.push_back(std::move(rule));
    }
  };
  if (groups->empty()) {
    emit(std::nullopt, {});
    return true;
  }
  for (auto& [name, group] : *groups) {
    const auto parsed = checks::calico_protocol(name);
    emit(parsed.protocol, group.all_ports ? std::vector<PortSpec>{} : simplify_ports(std::move(group.ports)));
  }
  return true;
}

}  // namespace

void read_kubernetes_network_policy(const MapView& doc, Model& model, PolicyKind kind) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  Metadata meta = read_metadata(doc, kind == PolicyKind::kKubernetesNetworkPolicy ? NameRule::kKubernetes
                                                                                  : NameRule::kNetworkPolicy,
                                true);
  const bool staged = kind == PolicyKind::kStagedKubernetesNetworkPolicy;
  const StrictFields strict(sink);
  MapView spec = staged ? MapView(sink, doc.get("spec"), "spec",
                                  {"podSelector", "policyTypes", "ingress", "egress", "stagedAction"})
                        : MapView(sink, doc.get("spec"), "spec", {"podSelector", "policyTypes", "ingress", "egress"});
  Policy policy;
  policy.kind = kind;
  policy.name = meta.name;
  policy.ns = meta.ns;
  policy.tier = "default";
  policy.order = 1000.0;
  policy.where = meta.where;
  if (staged) {
    policy.staged_action = spec.str("stagedAction").value_or("Set");
    if (policy.staged_action != "Set" && policy.staged_action != "Delete" && policy.staged_action != "Learn" &&
        policy.staged_action != "Ignore")
      sink.report_at("RP2016", "stagedAction \"" + policy.staged_action + "\" is not one of Set, Delete, Learn, Ignore",
                     spec.where("stagedAction"));
  }
  if (auto selector = convert_selector(sink, spec.get("podSelector"), "spec.podSelector", SelectorType::kPod))
    policy.selector = *selector;

  const auto types = spec.string_list("policyTypes");
  bool listed_ingress = false, listed_egress = false;
  for (const auto& [text, item] : types) {
    bool& flag = text == "Ingress" ? listed_ingress : listed_egress;
    if (text != "Ingress" && text != "Egress") {
      sink.report("RP5009", "policyTypes entry \"" + text + "\" must be Ingress or Egress", item);
      continue;
    }
    if (flag) sink.report("RP5009", "policyTypes lists " + text + " more than once", item);
    flag = true;
  }
  const auto ingress = spec.list("ingress");
  const auto egress = spec.list("egress");
  if (types.empty()) {
    // API server defaulting: Ingress always, Egress when there are egress rules.
    listed_ingress = true;
    listed_egress = !egress.empty();
  } else {
    if (!ingress.empty() && !listed_ingress)
      sink.report_at("RP6002", "ingress rules are ignored: policyTypes does not list Ingress", spec.key_where("ingress"));
    if (!egress.empty() && !listed_egress)
      sink.report_at("RP6002", "egress rules are ignored: policyTypes does not list Egress", spec.key_where("egress"));
  }
  policy.types_ingress = listed_ingress;
  policy.types_egress = listed_egress;
  for (std::size_t i = 0; i < ingress.size(); ++i)
    convert_rule(sink, ingress[i], "spec.ingress[" + std::to_string(i) + "]", Direction::kIngress, policy.ingress);
  for (std::size_t i = 0; i < egress.size(); ++i)
    convert_rule(sink, egress[i], "spec.egress[" + std::to_string(i) + "]", Direction::kEgress, policy.egress);
  if (sink.errors() != errors) return;  // the API server would refuse it
  model.policies.push_back(std::move(policy));
}

}  // namespace rampart::engine::loader
