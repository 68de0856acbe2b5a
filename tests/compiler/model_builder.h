// Builds small normalised engine::Models in tests, without the loader: the
// "effective" fields are filled directly (effective labels = labels plus
// projectcalico.org/namespace; selectors parsed as written).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "rampart/engine/model.h"

namespace rampart::testing {

inline selector::Selector sel(const std::string& text) {
  auto s = selector::Selector::parse(text);
  if (!s) throw std::runtime_error("bad selector " + text);
  return *s;
}

inline IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }
inline Cidr cidr(const std::string& text) { return *Cidr::parse(text); }

inline engine::Endpoint& add_pod(engine::Model& m, const std::string& ns, const std::string& name, Labels labels,
                                 std::vector<std::string> ips, const std::string& node = "node-1") {
  engine::Endpoint e;
  e.ns = ns;
  e.name = name;
  e.labels = labels;
  e.effective_labels = labels;
  e.effective_labels["projectcalico.org/namespace"] = ns;
  for (const auto& a : ips) e.ips.push_back(ip(a));
  e.node_name = node;
  m.endpoints.push_back(e);
  return m.endpoints.back();
}

inline engine::EntityRule peer(const std::string& selector_text = "", std::vector<std::string> nets = {}) {
  engine::EntityRule e;
  e.selector = selector_text;
  if (!selector_text.empty()) e.effective_selector = sel(selector_text);
  for (const auto& n : nets) e.nets.push_back(cidr(n));
  return e;
}

inline engine::PortSpec port(std::uint16_t lo, std::uint16_t hi = 0) {
  return engine::PortSpec{.min = lo, .max = hi ? hi : lo};
}
inline engine::PortSpec named_port(const std::string& name) { return engine::PortSpec{.name = name}; }

inline engine::Protocol protocol(std::uint8_t number) {
  const char* name = number == 6 ? "TCP" : number == 17 ? "UDP" : number == 1 ? "ICMP" : number == 58 ? "ICMPv6" : "";
  return engine::Protocol{.number = number, .written = name};
}

inline engine::Rule rule(engine::Action action, std::optional<std::uint8_t> proto = std::nullopt,
                         engine::EntityRule source = {}, engine::EntityRule destination = {}) {
  engine::Rule r;
  r.action = action;
  if (proto) r.protocol = protocol(*proto);
  r.source = std::move(source);
  r.destination = std::move(destination);
  return r;
}

inline engine::Policy& add_policy(engine::Model& m, const std::string& ns, const std::string& name,
                                  const std::string& selector_text, std::vector<engine::Rule> ingress,
                                  std::vector<engine::Rule> egress, bool types_ingress, bool types_egress,
                                  std::optional<double> order = std::nullopt, const std::string& tier = "default") {
  engine::Policy p;
  p.kind = ns.empty() ? engine::PolicyKind::kGlobalNetworkPolicy : engine::PolicyKind::kNetworkPolicy;
  p.name = name;
  p.ns = ns;
  p.tier = tier;
  p.order = order;
  p.selector = selector_text;
  std::string scoped = ns.empty() ? selector_text
                                  : "(" + (selector_text.empty() ? std::string("all()") : selector_text) +
                                        ") && projectcalico.org/namespace == '" + ns + "'";
  p.effective_selector = sel(scoped);
  p.ingress = std::move(ingress);
  p.egress = std::move(egress);
  p.types_ingress = types_ingress;
  p.types_egress = types_egress;
  m.policies.push_back(p);
  return m.policies.back();
}

inline void add_default_tier(engine::Model& m) {
  if (!m.find_tier("default")) m.tiers.push_back(engine::Tier{.name = "default", .order = 1000000});
}

}  // namespace rampart::testing
