// Building engine::Model values by hand in tests, "effective" fields
// included (what the normaliser would compute, calico-semantics.md §1.6–§1.7),
// so that evaluation can be tested without the loader.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rampart/engine/model.h"

namespace rampart::testing {

using namespace rampart::engine;

inline selector::Selector sel(const std::string& text) {
  auto s = selector::Selector::parse(text);
  if (!s) FAIL("bad selector in test: " << text << ": " << s.error().message);
  return *s;
}

inline Cidr cidr(const std::string& text) {
  auto c = Cidr::parse(text);
  if (!c) FAIL("bad CIDR in test: " << text);
  return *c;
}

inline IpAddress ip(const std::string& text) {
  auto a = IpAddress::parse(text);
  if (!a) FAIL("bad IP in test: " << text);
  return *a;
}

inline Protocol protocol(const std::string& written) {
  Protocol p;
  p.written = written;
  if (written == "TCP") p.number = proto::kTcp;
  else if (written == "UDP") p.number = proto::kUdp;
  else if (written == "SCTP") p.number = proto::kSctp;
  else if (written == "ICMP") p.number = proto::kIcmp;
  else if (written == "ICMPv6") p.number = proto::kIcmpV6;
  else p.number = static_cast<std::uint8_t>(std::stoi(written));
  return p;
}

inline PortSpec port(int lo, int hi = -1) {
  return PortSpec{static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi < 0 ? lo : hi), ""};
}
inline PortSpec named(const std::string& name) { return PortSpec{0, 0, name}; }

class TestModel {
 public:
  Model model;

  Namespace& ns(const std::string& name, Labels labels = {}) {
    labels["kubernetes.io/metadata.name"] = name;
    model.namespaces.push_back(Namespace{name, labels, {}});
    return model.namespaces.back();
  }

  Tier& tier(const std::string& name, std::optional<double> order, Action default_action = Action::kDeny) {
    Tier t;
    t.name = name;
    t.order = order;
    t.default_action = default_action;
    model.tiers.push_back(t);
    return model.tiers.back();
  }

  // A pod with its effective labels as the normaliser computes them.
  Endpoint& pod(const std::string& ns_name, const std::string& name, Labels labels, const std::string& address = "",
                std::vector<NamedPort> ports = {}, const std::string& sa = "default") {
    Endpoint e;
    e.ns = ns_name;
    e.name = name;
    e.owner = Workload{"Pod", name};
    e.labels = labels;
    e.service_account = sa;
    if (!address.empty()) e.ips.push_back(ip(address));
    e.ports = std::move(ports);
    Labels eff = labels;
    for (const auto& n : model.namespaces)
      if (n.name == ns_name)
        for (const auto& [k, v] : n.labels) eff["pcns." + k] = v;
    eff["pcns.projectcalico.org/name"] = ns_name;
    eff["pcsa.projectcalico.org/name"] = sa;
    eff["projectcalico.org/namespace"] = ns_name;
    eff["projectcalico.org/orchestrator"] = "k8s";
    eff["projectcalico.org/serviceaccount"] = sa;
    e.effective_labels = eff;
    model.endpoints.push_back(e);
    return model.endpoints.back();
  }

  Endpoint& host(const std::string& name, Labels labels, const std::string& address,
                 std::vector<std::string> profiles = {}) {
    Endpoint e;
    e.kind = EndpointKind::kHostEndpoint;
    e.name = name;
    e.node_name = name;
    e.owner = Workload{"HostEndpoint", name};
    e.labels = labels;
    e.effective_labels = labels;
    e.ips.push_back(ip(address));
    e.profiles = std::move(profiles);
    model.endpoints.push_back(e);
    return model.endpoints.back();
  }

  NetworkSet& network_set(const std::string& ns_name, const std::string& name, Labels labels,
                          std::vector<std::string> nets) {
    NetworkSet s;
    s.name = name;
    s.ns = ns_name;
    s.labels = labels;
    for (const auto& n : nets) s.nets.push_back(cidr(n));
    Labels eff = labels;
    if (!ns_name.empty()) {
      eff["projectcalico.org/namespace"] = ns_name;
      for (const auto& n : model.namespaces)
        if (n.name == ns_name)
          for (const auto& [k, v] : n.labels) eff["pcns." + k] = v;
      eff["pcns.projectcalico.org/name"] = ns_name;
    }
    s.effective_labels = eff;
    model.network_sets.push_back(s);
    return model.network_sets.back();
  }

  // `effective` is the scoped selector (for a namespaced policy include the
  // namespace clause yourself, as §1.7 would).
  Policy& policy(PolicyKind kind, const std::string& name, const std::string& ns_name, const std::string& tier_name,
                 std::optional<double> order, const std::string& effective, bool ingress, bool egress) {
    Policy p;
    p.kind = kind;
    p.name = name;
    p.ns = ns_name;
    p.tier = tier_name;
    p.order = order;
    p.effective_selector = sel(effective);
    p.types_ingress = ingress;
    p.types_egress = egress;
    model.policies.push_back(p);
    return model.policies.back();
  }
};

inline Rule rule(Action action) {
  Rule r;
  r.action = action;
  return r;
}

}  // namespace rampart::testing
