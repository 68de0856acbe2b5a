// projectcalico.org/v3 resources other than policies: Tier, NetworkSet,
// GlobalNetworkSet, HostEndpoint, Profile (calico-semantics.md §3.8–§3.11, §5.4).
#include "../validate/checks.h"
#include "calico_rule.h"
#include "readers.h"

namespace rampart::engine::loader {

void read_tier(const MapView& doc, Model& model) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  Metadata meta = read_metadata(doc, NameRule::kTier, false);
  MapView spec(sink, doc.get("spec"), "spec", {"order", "defaultAction"});
  Tier tier;
  tier.name = meta.name;
  tier.where = meta.where;
  tier.declared = true;
  tier.order = spec.number("order");
  const std::string action = spec.str("defaultAction").value_or("Deny");
  if (action == "Deny") tier.default_action = Action::kDeny;
  else if (action == "Pass") tier.default_action = Action::kPass;
  else sink.report_at("RP4001", "spec.defaultAction \"" + action + "\" must be Deny or Pass", spec.where("defaultAction"));
  struct Builtin {
    const char* name;
    double order;
    Action action;
    const char* action_name;
  };
  static constexpr Builtin kBuiltins[] = {{"default", 1e6, Action::kDeny, "Deny"},
                                          {"kube-admin", 1000.0, Action::kPass, "Pass"},
                                          {"kube-baseline", 1e7, Action::kPass, "Pass"}};
  for (const auto& b : kBuiltins) {
    if (tier.name != b.name) continue;
    if (!tier.order || *tier.order != b.order)
      sink.report_at("RP4001", "the built-in tier \"" + tier.name + "\" must have order " +
                                   std::to_string(static_cast<long long>(b.order)),
                     spec.where("order"));
    if (tier.default_action != b.action)
      sink.report_at("RP4001", "the built-in tier \"" + tier.name + "\" must have defaultAction " + b.action_name,
                     spec.where("defaultAction"));
  }
  if (sink.errors() != errors) return;
  model.tiers.push_back(std::move(tier));
}

void read_network_set(const MapView& doc, Model& model, bool global) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  Metadata meta = read_metadata(doc, NameRule::kSubdomain, !global);
  MapView metadata(sink, doc.get("metadata"), "metadata");
  if (const Node* key = nullptr; meta.labels.contains("projectcalico.org/namespace")) {
    MapView labels(sink, metadata.get("labels"), "metadata.labels");
    key = labels.key_node("projectcalico.org/namespace");
    sink.report_at("RP1008", "projectcalico.org/namespace is not a valid label name on a network set",
                   key ? sink.at(*key) : meta.where);
  }
  MapView spec(sink, doc.get("spec"), "spec", {"nets"});
  NetworkSet set;
  set.name = meta.name;
  set.ns = meta.ns;
  set.labels = std::move(meta.labels);
  set.where = meta.where;
  for (const auto& [text, item] : spec.string_list("nets")) {
    auto cidr = Cidr::parse(text);  // bare IPs and host bits are accepted here (§3.9)
    if (!cidr) {
      sink.report("RP4002", "spec.nets: \"" + text + "\" is not a CIDR or IP address", item);
      continue;
    }
    set.nets.push_back(*cidr);
  }
  if (sink.errors() != errors) return;
  model.network_sets.push_back(std::move(set));
}

void read_host_endpoint(const MapView& doc, Model& model) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  Metadata meta = read_metadata(doc, NameRule::kSubdomain, false);
  MapView spec(sink, doc.get("spec"), "spec", {"node", "interfaceName", "expectedIPs", "profiles", "ports"});
  Endpoint ep;
  ep.kind = EndpointKind::kHostEndpoint;
  ep.name = meta.name;
  ep.owner = Workload{"HostEndpoint", meta.name};
  ep.labels = std::move(meta.labels);
  ep.service_account.clear();
  ep.where = meta.where;
  ep.node_name = spec.str("node").value_or("");
  ep.interface = spec.str("interfaceName").value_or("");
  if (ep.node_name.empty()) sink.report_at("RP4003", "spec.node is required", spec.is_map() ? sink.at(spec.node()) : meta.where);
  const auto ips = spec.string_list("expectedIPs");
  if (ep.interface.empty() && ips.empty())
    sink.report_at("RP4003", "spec.interfaceName or spec.expectedIPs is required",
                   spec.is_map() ? sink.at(spec.node()) : meta.where);
  if (!ep.interface.empty() && ep.interface != "*") {
    bool ok = ep.interface.size() <= 15;
    for (char c : ep.interface)
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                  c == '-');
    if (!ok) sink.report_at("RP4003", "spec.interfaceName \"" + ep.interface + "\" must be '*' or 1–15 of [a-zA-Z0-9_.-]",
                            spec.where("interfaceName"));
  }
  for (const auto& [text, item] : ips) {
    auto ip = IpAddress::parse(text);
    if (!ip) sink.report("RP4003", "spec.expectedIPs: \"" + text + "\" is not an IP address", item);
    else ep.ips.push_back(*ip);
  }
  for (const auto& [profile, item] : spec.string_list("profiles")) {
    if (auto problem = checks::subdomain_name(profile)) sink.report("RP4003", "spec.profiles: " + *problem, item);
    ep.profiles.push_back(profile);
  }
  const auto ports = spec.list("ports");
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const std::string path = "spec.ports[" + std::to_string(i) + "]";
    MapView p(sink, ports[i], path, {"name", "protocol", "port"});
    NamedPort port;
    port.name = p.str("name").value_or("");
    if (auto problem = checks::iana_port_name(port.name)) sink.report_at("RP4003", path + ".name: " + *problem, p.where("name"));
    const std::string protocol = p.str("protocol").value_or("");
    auto parsed = checks::calico_protocol(protocol);
    if (parsed.error || !parsed.protocol.supports_ports())
      sink.report_at("RP4003", path + ".protocol \"" + protocol + "\" must be TCP, UDP or SCTP", p.where("protocol"));
    port.protocol = parsed.protocol.number;
    const auto number = p.integer("port");
    if (!number || *number < 1 || *number > 65535)
      sink.report_at("RP4003", path + ".port must be 1–65535", p.where("port"));
    else port.port = static_cast<std::uint16_t>(*number);
    ep.ports.push_back(std::move(port));
  }
  if (sink.errors() != errors) return;
  model.endpoints.push_back(std::move(ep));
}

void read_profile(const MapView& doc, Model& model) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  Metadata meta = read_metadata(doc, NameRule::kSubdomain, false);
  MapView spec(sink, doc.get("spec"), "spec", {"ingress", "egress", "labelsToApply"});
  Profile profile;
  profile.name = meta.name;
  profile.where = meta.where;
  profile.labels_to_apply = read_labels(sink, spec.get("labelsToApply"), "spec.labelsToApply");  // §5 PR1
  const auto ingress = spec.list("ingress");
  const auto egress = spec.list("egress");
  for (auto [list, key] : {std::pair{&ingress, "ingress"}, std::pair{&egress, "egress"}})
    if (list->size() > 1024)
      sink.report_at("RP2009", "spec." + std::string(key) + " has " + std::to_string(list->size()) +
                                   " rules (at most 1024)", spec.key_where(key));
  // Profile rules are not scoped to a namespace, like a global policy's.
  const RuleContext in{Direction::kIngress, true};
  const RuleContext out{Direction::kEgress, true};
  for (std::size_t i = 0; i < ingress.size(); ++i)
    profile.ingress.push_back(read_calico_rule(sink, ingress[i], "spec.ingress[" + std::to_string(i) + "]", in));
  for (std::size_t i = 0; i < egress.size(); ++i)
    profile.egress.push_back(read_calico_rule(sink, egress[i], "spec.egress[" + std::to_string(i) + "]", out));
  if (sink.errors() != errors) return;
  model.profiles.push_back(std::move(profile));
}

}  // namespace rampart::engine::loader
