#include "calico_rule.h"

#include <algorithm>
#include <set>

#include "../validate/checks.h"

namespace rampart::engine::loader {
namespace {

std::optional<Protocol> read_protocol(Sink& sink, const MapView& r, std::string_view key) {
  const auto text = r.str(key);
  if (!text) return std::nullopt;
  auto parsed = checks::calico_protocol(*text);
  if (parsed.error) {
    sink.report_at("RP3003", r.path(key) + ": " + *parsed.error, r.where(key));
    return std::nullopt;
  }
  return parsed.protocol;
}

std::optional<IcmpMatch> read_icmp(Sink& sink, const MapView& r, std::string_view key) {
  if (!r.has(key)) return std::nullopt;
  MapView m(sink, r.get(key), r.path(key), {"type", "code"});
  IcmpMatch icmp;
  if (auto type = m.integer("type")) {
    if (*type < 0 || *type > 254) sink.report_at("RP3007", m.path("type") + " " + std::to_string(*type) +
                                                               " must be 0–254", m.where("type"));
    else icmp.type = static_cast<int>(*type);
  }
  if (auto code = m.integer("code")) {
    if (*code < 0 || *code > 255) sink.report_at("RP3007", m.path("code") + " " + std::to_string(*code) +
                                                               " must be 0–255", m.where("code"));
    else icmp.code = static_cast<int>(*code);
    if (!m.has("type")) sink.report_at("RP3007", r.path(key) + ": code is specified without a type", m.where("code"));
  }
  return icmp;
}

struct NetList {
  std::vector<Cidr> cidrs;
  std::vector<SourceLocation> where;
};

NetList read_nets(Sink& sink, const MapView& e, std::string_view key) {
  NetList out;
  const auto items = e.string_list(key);
  if (items.size() > 256)
    sink.report_at("RP3014", e.path(key) + " has " + std::to_string(items.size()) + " entries (at most 256)",
                   e.where(key));
  for (const auto& [text, node] : items) {
    auto parsed = checks::strict_cidr(text);
    if (parsed.error) {
      sink.report("RP3010", e.path(key) + ": " + *parsed.error, node);
      continue;
    }
    out.cidrs.push_back(parsed.cidr);
    out.where.push_back(sink.at(node));
  }
  return out;
}

std::vector<PortSpec> read_ports(Sink& sink, const MapView& e, std::string_view key,
                                 std::vector<SourceLocation>& numeric_at) {
  std::vector<PortSpec> out;
  const auto items = e.list(key);
  if (items.size() > 50)
    sink.report_at("RP3014", e.path(key) + " has " + std::to_string(items.size()) + " entries (at most 50)",
                   e.where(key));
  for (const auto& item : items) {
    if (!item.is_scalar()) {
      sink.report("RP0012", "items of " + e.path(key) + " must be numbers or strings, not " + describe(item), item);
      continue;
    }
    if (auto other = yaml11_reading(item)) {
      sink.report("RP0012", e.path(key) + ": " + item.scalar() + " is " + *other +
                                " to YAML 1.1 (calicoctl, kubectl): write the port in decimal, or quote a name",
                  item);
      continue;
    }
    auto parsed = checks::calico_port(item.scalar());
    if (parsed.error) {
      sink.report("RP3006", e.path(key) + ": " + *parsed.error, item);
      continue;
    }
    if (!parsed.port.is_named()) numeric_at.push_back(sink.at(item));
    out.push_back(std::move(parsed.port));
  }
  return out;
}

void check_selector(Sink& sink, const MapView& m, std::string_view key, std::string_view id) {
  const auto text = m.str(key);
  if (!text) return;
  if (auto problem = checks::selector_text(*text)) sink.report_at(id, m.path(key) + ": " + *problem, m.where(key));
}

bool internal_labels(std::string_view selector) {
  return selector.find("projectcalico.org/namespace") != std::string_view::npos ||
         selector.find("pcns.") != std::string_view::npos || selector.find("pcsa.") != std::string_view::npos;
}

struct EntityRead {
  EntityRule rule;
  std::vector<SourceLocation> numeric_ports;
  std::vector<SourceLocation> all_ports;  // every port entry, for R4
  std::vector<std::pair<Cidr, SourceLocation>> cidrs;
  bool present = false;
};

EntityRead read_entity(Sink& sink, const Node& node, const std::string& path, const SourceLocation& rule_where) {
  EntityRead out;
  out.rule.where = rule_where;
  if (is_null(node)) return out;
  out.present = true;
  MapView e(sink, node, path,
            {"nets", "notNets", "selector", "notSelector", "namespaceSelector", "ports", "notPorts", "serviceAccounts",
             "services"});
  out.rule.where = sink.at(node);
  if (!e.is_map()) return out;
  auto nets = read_nets(sink, e, "nets");
  auto not_nets = read_nets(sink, e, "notNets");
  for (std::size_t i = 0; i < not_nets.cidrs.size(); ++i)
    if (not_nets.cidrs[i].prefix == 0)
      sink.report_at("RP3013", path + ".notNets: the catch-all " + not_nets.cidrs[i].str() + " matches no traffic",
                     not_nets.where[i]);
  for (std::size_t i = 0; i < nets.cidrs.size(); ++i) out.cidrs.emplace_back(nets.cidrs[i], nets.where[i]);
  for (std::size_t i = 0; i < not_nets.cidrs.size(); ++i) out.cidrs.emplace_back(not_nets.cidrs[i], not_nets.where[i]);
  out.rule.nets = std::move(nets.cidrs);
  out.rule.not_nets = std::move(not_nets.cidrs);

  check_selector(sink, e, "selector", "RP3015");
  check_selector(sink, e, "notSelector", "RP3015");
  check_selector(sink, e, "namespaceSelector", "RP3015");
  out.rule.selector = e.str("selector").value_or("");
  out.rule.not_selector = e.str("notSelector").value_or("");
  out.rule.namespace_selector = e.str("namespaceSelector").value_or("");
  if (out.rule.selector.find("global(") != std::string::npos)
    sink.report_at("RP3016", path + ".selector: global() may only be used in namespaceSelector", e.where("selector"));
  if (out.rule.namespace_selector.find("global(") != std::string::npos) {
    std::string_view trimmed = out.rule.namespace_selector;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) trimmed.remove_suffix(1);
    if (trimmed != "global()")
      sink.report_at("RP3017", path + ".namespaceSelector: global() cannot be combined with other selectors",
                     e.where("namespaceSelector"));
  }
  for (std::string_view key : {"selector", "notSelector"})
    if (auto text = e.str(key); text && internal_labels(*text))
      sink.report_at("RP6006", path + "." + std::string(key) + " refers to Calico's internal labels",
                     e.where(key));

  std::vector<SourceLocation> numeric;
  out.rule.ports = read_ports(sink, e, "ports", numeric);
  out.rule.not_ports = read_ports(sink, e, "notPorts", numeric);
  out.numeric_ports = std::move(numeric);
  if (!out.rule.ports.empty()) out.all_ports.push_back(e.where("ports"));
  if (!out.rule.not_ports.empty()) out.all_ports.push_back(e.where("notPorts"));

  if (e.has("serviceAccounts")) {
    MapView sa(sink, e.get("serviceAccounts"), path + ".serviceAccounts", {"names", "selector"});
    ServiceAccountMatch match;
    for (auto& [name, item] : sa.string_list("names")) match.names.push_back(name);
    check_selector(sink, sa, "selector", "RP3015");
    match.selector = sa.str("selector").value_or("");
    out.rule.service_accounts = std::move(match);
  }
  if (e.has("services")) {
    MapView svc(sink, e.get("services"), path + ".services", {"name", "namespace"});
    ServiceMatch match;
    match.name = svc.str("name").value_or("");
    match.ns = svc.str("namespace").value_or("");
    if (match.name.empty())
      sink.report_at("RP3018", path + ".services: a service name is required", e.where("services"));
    else if (auto problem = checks::subdomain_name(match.name))
      sink.report_at("RP3018", path + ".services.name: " + *problem, svc.where("name"));
    if (!match.ns.empty())
      if (auto problem = checks::subdomain_name(match.ns))
        sink.report_at("RP3018", path + ".services.namespace: " + *problem, svc.where("namespace"));
    for (std::string_view other : {"namespaceSelector", "selector", "notSelector", "nets", "notNets", "serviceAccounts"})
      if (e.has(other))
        sink.report_at("RP3018", path + ": cannot specify " + std::string(other) + " and services on the same rule",
                       e.key_where(other));
    out.rule.services = std::move(match);
  }
  return out;
}

void read_http(Sink& sink, const MapView& r, const std::string& path) {
  MapView http(sink, r.get("http"), path + ".http", {"methods", "paths"});
  const auto methods = http.string_list("methods");
  if (methods.size() > 20) sink.report_at("RP3021", path + ".http.methods: at most 20 methods", http.where("methods"));
  std::set<std::string> seen;
  for (const auto& [m, node] : methods)
    if (!seen.insert(m).second) sink.report("RP3021", path + ".http.methods: \"" + m + "\" is listed twice", node);
  const auto paths = http.list("paths");
  if (paths.size() > 20) sink.report_at("RP3021", path + ".http.paths: at most 20 paths", http.where("paths"));
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::string ppath = path + ".http.paths[" + std::to_string(i) + "]";
    MapView p(sink, paths[i], ppath, {"exact", "prefix"});
    const bool exact = p.has("exact"), prefix = p.has("prefix");
    if (exact == prefix) {
      sink.report("RP3021", ppath + ": set exactly one of exact and prefix", paths[i]);
      continue;
    }
    const std::string_view key = exact ? "exact" : "prefix";
    const std::string value = p.str(key).value_or("");
    if (value.empty() || value.front() != '/' || value.size() > 1024 ||
        value.find_first_of("?# ") != std::string::npos)
      sink.report_at("RP3021", ppath + "." + std::string(key) + " \"" + value +
                                   "\" must start with '/', be ≤1024 characters and contain no '?', '#' or space",
                     p.where(key));
  }
}

}  // namespace

Rule read_calico_rule(Sink& sink, const Node& node, const std::string& path, const RuleContext& context) {
  Rule rule;
  rule.where = sink.at(node);
  MapView r(sink, node, path,
            {"action", "ipVersion", "protocol", "notProtocol", "icmp", "notICMP", "source", "destination", "http",
             "metadata"});
  if (!r.is_map()) {
    if (is_null(node)) sink.report("RP3001", path + ": a rule needs an action", node);
    return rule;
  }
  const auto action = r.str("action");
  if (!action) sink.report_at("RP3001", path + ".action is required (Allow, Deny, Log or Pass)", rule.where);
  else if (*action == "Allow") rule.action = Action::kAllow;
  else if (*action == "Deny") rule.action = Action::kDeny;
  else if (*action == "Pass") rule.action = Action::kPass;
  else if (*action == "Log") rule.action = Action::kLog;
  else sink.report_at("RP3001", path + ".action \"" + *action + "\" must be Allow, Deny, Log or Pass (case-sensitive)",
                      r.where("action"));

  if (auto version = r.integer("ipVersion")) {
    if (*version != 4 && *version != 6)
      sink.report_at("RP3002", path + ".ipVersion " + std::to_string(*version) + " must be 4 or 6", r.where("ipVersion"));
    else rule.ip_version = static_cast<int>(*version);
  }
  rule.protocol = read_protocol(sink, r, "protocol");
  rule.not_protocol = read_protocol(sink, r, "notProtocol");
  rule.icmp = read_icmp(sink, r, "icmp");
  rule.not_icmp = read_icmp(sink, r, "notICMP");

  if (rule.icmp && !(rule.protocol && (rule.protocol->number == proto::kIcmp || rule.protocol->number == proto::kIcmpV6)))
    sink.report_at("RP3008", path + ".icmp requires protocol ICMP or ICMPv6", r.key_where("icmp"));
  for (std::string_view key : {"protocol", "notProtocol"}) {
    const auto& p = key == "protocol" ? rule.protocol : rule.not_protocol;
    if (!p || !rule.ip_version) continue;
    if (p->number == proto::kIcmp && *rule.ip_version != 4)
      sink.report_at("RP3009", path + "." + std::string(key) + " " + p->written + " requires ipVersion 4",
                     r.where(key), {{r.where("ipVersion"), "ipVersion set here"}});
    if (p->number == proto::kIcmpV6 && *rule.ip_version != 6)
      sink.report_at("RP3009", path + "." + std::string(key) + " " + p->written + " requires ipVersion 6",
                     r.where(key), {{r.where("ipVersion"), "ipVersion set here"}});
  }

  EntityRead source = read_entity(sink, r.get("source"), path + ".source", rule.where);
  EntityRead destination = read_entity(sink, r.get("destination"), path + ".destination", rule.where);

  // Ports need a protocol that has them (R4), numeric ports need one at all (R5).
  std::vector<SourceLocation> port_lists = source.all_ports;
  port_lists.insert(port_lists.end(), destination.all_ports.begin(), destination.all_ports.end());
  std::vector<SourceLocation> numeric = source.numeric_ports;
  numeric.insert(numeric.end(), destination.numeric_ports.begin(), destination.numeric_ports.end());
  if (rule.protocol && !rule.protocol->supports_ports() && !port_lists.empty())
    sink.report_at("RP3004", path + ": rules specifying ports must use protocol TCP, UDP or SCTP, not " +
                                 rule.protocol->written,
                   port_lists.front(), {{r.where("protocol"), "protocol set here"}});
  if (!rule.protocol && !r.has("protocol") && !numeric.empty())
    sink.report_at("RP3005", path + ": numeric ports and port ranges need protocol TCP, UDP or SCTP", numeric.front());

  // CIDR families (R11, R12).
  std::vector<std::pair<Cidr, SourceLocation>> cidrs = source.cidrs;
  cidrs.insert(cidrs.end(), destination.cidrs.begin(), destination.cidrs.end());
  bool v4 = false, v6 = false;
  for (const auto& [cidr, where] : cidrs) {
    (cidr.address.family == 4 ? v4 : v6) = true;
    if (rule.ip_version && cidr.address.family != *rule.ip_version)
      sink.report_at("RP3011", path + ": " + cidr.str() + " is not an IPv" + std::to_string(*rule.ip_version) +
                                   " CIDR (ipVersion " + std::to_string(*rule.ip_version) + ")",
                     where, {{r.where("ipVersion"), "ipVersion set here"}});
  }
  if (v4 && v6) sink.report_at("RP3012", path + ": the rule contains both IPv4 and IPv6 CIDRs", cidrs.front().second);
  else if ((v4 || v6) && !rule.ip_version &&
           !(rule.protocol && (rule.protocol->written == "ICMP" || rule.protocol->written == "ICMPv6")))
    sink.report_at("RP6004",
                   path + ": only IPv" + std::string(v4 ? "4" : "6") +
                       " CIDRs and no ipVersion: the rule is skipped for IPv" + std::string(v4 ? "6" : "4"),
                   cidrs.front().second);

  // Services (P10, P11, P13, R19).
  const bool egress = context.direction == Direction::kEgress;
  if (source.rule.services && egress)
    sink.report_at("RP2010", path + ".source.services is not allowed in an egress rule", source.rule.where);
  if (destination.rule.services && !egress)
    sink.report_at("RP2011", path + ".destination.services is not allowed in an ingress rule", destination.rule.where);
  if (destination.rule.services && (!destination.rule.ports.empty() || !destination.rule.not_ports.empty()))
    sink.report_at("RP3019", path + ".destination: ports and notPorts cannot be specified with services",
                   destination.all_ports.front());
  if (context.global)
    for (const EntityRead* e : {&source, &destination})
      if (e->rule.services && !e->rule.services->name.empty() && e->rule.services->ns.empty())
        sink.report_at("RP2013", path + ": services in a GlobalNetworkPolicy must specify a namespace", e->rule.where);

  // notSelector alone in a GNP matches the whole Internet too (advice).
  if (context.global)
    for (const EntityRead* e : {&source, &destination})
      if (!e->rule.not_selector.empty() && e->rule.selector.empty() && e->rule.namespace_selector.empty() &&
          !e->rule.service_accounts)
        sink.report_at("RP6003", path + ": notSelector without selector matches every address outside the set, "
                                        "external ones included",
                       e->rule.where);

  if (r.has("http")) {
    rule.has_http = true;
    if (egress) sink.report_at("RP2012", path + ".http is not allowed in egress rules", r.key_where("http"));
    if (rule.action != Action::kAllow)
      sink.report_at("RP3020", path + ".http is only allowed on Allow rules", r.key_where("http"));
    if (rule.protocol && rule.protocol->number != proto::kTcp)
      sink.report_at("RP3020", path + ".http needs protocol TCP or unset", r.key_where("http"));
    read_http(sink, r, path);
    sink.report_at("RP6005", path + ".http: nftables enforces the L3/L4 part only", r.key_where("http"));
  }
  if (r.has("metadata")) {
    MapView meta(sink, r.get("metadata"), path + ".metadata", {"annotations"});
    const Node annotations = meta.get("annotations");
    if (!is_null(annotations) && annotations.is_map())
      for (const auto& entry : annotations.entries()) {
        if (!entry.first.is_scalar()) continue;
        std::string key = entry.first.scalar();
        for (char& c : key) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        if (auto problem = checks::qualified_name(key)) sink.report("RP1006", "rule annotation " + *problem, entry.first);
      }
    else if (!is_null(annotations))
      sink.report("RP0012", path + ".metadata.annotations must be a mapping, not " + describe(annotations), annotations);
  }
  rule.source = std::move(source.rule);
  rule.destination = std::move(destination.rule);
  return rule;
}

}  // namespace rampart::engine::loader
