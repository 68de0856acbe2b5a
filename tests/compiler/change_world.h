// A small random cluster kept as "as written" objects, with random changes
// recorded as the agent records them (ModelChange); normalize() fills the
// effective fields, as the agent does. For NodeLowering's property tests.
#pragma once

#include <array>
#include <initializer_list>
#include <iterator>
#include <map>
#include <random>
#include <string>

#include "model_builder.h"
#include "rampart/compiler/node_lowering.h"
#include "rampart/engine/normalize.h"

namespace rampart::testing {

using compiler::ModelChange;
using compiler::endpoint_key;
using compiler::network_set_key;
using compiler::policy_key;

// A small cluster kept as "as written" objects; normalize() fills the rest,
// as the agent does.
class World {
 public:
  // allow_runs: mostly allow-only policies over overlapping port ranges and
  // three protocols, so endpoint chains merge them into allow runs.
  explicit World(unsigned seed, bool allow_runs = false) : allow_runs_(allow_runs), rng_(seed) {
    for (int i = 0; i < 3; ++i) {
      m.namespaces.push_back(engine::Namespace{.name = "ns" + std::to_string(i), .labels = {{"team", pick_of({"x", "y"})}}});
    }
    m.tiers.push_back(engine::Tier{.name = "sec", .order = 10, .default_action = engine::Action::kPass});
    for (int i = 0; i < 14; ++i) add_pod();
    for (int i = 0; i < 3; ++i) add_network_set();
    for (int i = 0; i < (allow_runs_ ? 10 : 7); ++i) add_policy();
    finish();
  }

  int pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
  std::string pick_of(std::initializer_list<const char*> xs) { return *(xs.begin() + pick(static_cast<int>(xs.size()))); }

  void finish() { (void)engine::normalize(m); }

  Labels pod_labels() {
    Labels l{{"app", pick_of({"a", "b", "c"})}};
    if (pick(2)) l["role"] = pick_of({"db", "web"});
    return l;
  }
  std::vector<IpAddress> pod_ips() {
    ++address_;
    std::vector<IpAddress> ips{ip("10.1." + std::to_string(address_ / 200) + "." + std::to_string(address_ % 200 + 1))};
    if (pick(3) == 0) ips.push_back(ip("fd00::" + std::to_string(address_)));
    if (pick(9) == 0) ips = {ip("10.1.0.1")};  // an address two pods share
    return ips;
  }

  ModelChange add_pod() {
    engine::Endpoint e;
    e.ns = "ns" + std::to_string(pick(3));
    e.name = "p" + std::to_string(next_++);
    e.labels = pod_labels();
    e.ips = pod_ips();
    e.node_name = pick(2) ? "node-1" : "node-2";
    if (pick(2)) e.ports.push_back(engine::NamedPort{.name = "web", .protocol = 6, .port = static_cast<std::uint16_t>(80 + pick(2))});
    if (pick(4) == 0) e.ports.push_back(engine::NamedPort{.name = "dns", .protocol = 17, .port = 53});
    m.endpoints.insert(m.endpoints.begin() + pick(static_cast<int>(m.endpoints.size()) + 1), e);
    return ModelChange{.endpoints = {endpoint_key(e)}};
  }

  void add_network_set() {
    engine::NetworkSet n;
    n.name = "net" + std::to_string(next_++);
    n.ns = pick(2) ? "" : "ns" + std::to_string(pick(3));
    n.labels = {{"app", pick_of({"a", "b", "ext"})}};
    n.nets = {cidr("192.168." + std::to_string(pick(4)) + ".0/24")};
    if (pick(3) == 0) n.nets.push_back(cidr("fd10::/64"));
    m.network_sets.push_back(n);
  }

  engine::EntityRule random_peer() {
    engine::EntityRule e;
    switch (pick(6)) {
      case 0: e.selector = "app == '" + pick_of({"a", "b", "c", "ext"}) + "'"; break;
      case 1: e.selector = "role == 'db'"; e.namespace_selector = "team == 'x'"; break;
      case 2: e.nets = {cidr("10.1.0.0/" + std::to_string(24 + pick(4)))}; break;
      case 3: e.not_selector = "app == 'c'"; break;
      case 4: e.selector = "all()"; break;
      default: break;
    }
    return e;
  }

  engine::Policy random_policy(const std::string& name) {
    engine::Policy p;
    const int kind = pick(3);
    p.kind = kind == 0 ? engine::PolicyKind::kGlobalNetworkPolicy : engine::PolicyKind::kNetworkPolicy;
    p.name = name;
    if (kind != 0) p.ns = "ns" + std::to_string(pick(3));
    else if (pick(2)) p.namespace_selector = "team == 'y'";
    p.tier = pick(3) == 0 ? "sec" : pick(6) == 0 ? "adhoc" : "default";
    p.order = pick(3) ? std::optional<double>(pick(4)) : std::nullopt;
    p.selector = pick_of({"app == 'a'", "app == 'b'", "app in {'a', 'c'}", "all()", "role == 'web'"});
    p.types_ingress = pick(4) != 0;
    p.types_egress = !p.types_ingress || pick(2);
    for (auto* rules : {&p.ingress, &p.egress}) {
      for (int r = 0, n = pick(3); r < n; ++r) {
        const int a = allow_runs_ ? (pick(12) == 0 ? 5 + pick(5) : 0) : pick(10);
        engine::Rule rule;
        rule.action = a < 5 ? engine::Action::kAllow : a < 8 ? engine::Action::kDeny : a < 9 ? engine::Action::kPass : engine::Action::kLog;
        if (allow_runs_ ? pick(5) != 0 : pick(2) != 0)
          rule.protocol = protocol(allow_runs_ ? std::array<std::uint8_t, 3>{6, 17, 132}[static_cast<std::size_t>(pick(3))]
                                               : (pick(2) ? 6 : 17));
        rule.source = random_peer();
        rule.destination = allow_runs_ && pick(2) ? engine::EntityRule{} : random_peer();
        if (rule.protocol) {
          if (pick(3) == 0) rule.destination.ports = {named_port(pick(2) ? "web" : "dns")};
          else if (allow_runs_ && pick(3) != 0) rule.destination.ports = {pick(2) ? port(80, 90) : port(85), port(8000 + pick(2) * 40, 8080)};
          else if (pick(2)) rule.destination.ports = {port(80), port(8000, 8080)};
        }
        rules->push_back(rule);
      }
    }
    return p;
  }

  ModelChange add_policy() {
    m.policies.push_back(random_policy("pol" + std::to_string(next_++)));
    return ModelChange{.policies = {policy_key(m.policies.back())}};
  }

  template <typename T>
  std::size_t any(const std::vector<T>& v) { return static_cast<std::size_t>(pick(static_cast<int>(v.size()))); }

  // One random change, recorded as the agent would.
  ModelChange mutate(std::map<std::string, std::string>& interfaces) {
    ModelChange c;
    switch (pick(13)) {
      case 0: return add_pod();
      case 1: {
        if (m.endpoints.empty()) return add_pod();
        const auto i = any(m.endpoints);
        c.endpoints = {endpoint_key(m.endpoints[i])};
        m.endpoints.erase(m.endpoints.begin() + static_cast<std::ptrdiff_t>(i));
        return c;
      }
      case 2: {
        if (m.endpoints.empty()) return add_pod();
        auto& e = m.endpoints[any(m.endpoints)];
        e.labels = pod_labels();
        c.endpoints = {endpoint_key(e)};
        return c;
      }
      case 3: {
        if (m.endpoints.empty()) return add_pod();
        auto& e = m.endpoints[any(m.endpoints)];
        e.ips = pod_pick_readdress();
        c.endpoints = {endpoint_key(e)};
        return c;
      }
      case 4: {
        if (m.endpoints.empty()) return add_pod();
        auto& e = m.endpoints[any(m.endpoints)];
        e.node_name = e.node_name == "node-1" ? "node-2" : "node-1";
        c.endpoints = {endpoint_key(e)};
        return c;
      }
      case 5: {  // the CNI names the interface: not a model change
        if (m.endpoints.empty()) return add_pod();
        const auto& e = m.endpoints[any(m.endpoints)];
        std::string name = "veth" + std::to_string(next_++);
        if (!interfaces.empty() && pick(3) == 0) {  // another pod's: a contested interface
          auto it = interfaces.begin();
          std::advance(it, pick(static_cast<int>(interfaces.size())));
          name = it->second;
        }
        interfaces[e.ns + "/" + e.name] = name;
        return c;
      }
      case 6: return add_policy();
      case 7: {
        if (m.policies.empty()) return add_policy();
        auto& p = m.policies[any(m.policies)];
        c.policies.insert(policy_key(p));
        p = random_policy(p.name);  // keeps the name; kind and namespace may change: both keys
        c.policies.insert(policy_key(p));
        return c;
      }
      case 8: {
        if (m.policies.empty()) return add_policy();
        const auto i = any(m.policies);
        c.policies = {policy_key(m.policies[i])};
        m.policies.erase(m.policies.begin() + static_cast<std::ptrdiff_t>(i));
        return c;
      }
      case 9: {
        auto& ns = m.namespaces[any(m.namespaces)];
        ns.labels["team"] = ns.labels["team"] == "x" ? "y" : "x";
        c.namespaces = {ns.name};
        return c;
      }
      case 10: {
        if (pick(3) == 0 || m.network_sets.empty()) {
          add_network_set();
          c.network_sets = {network_set_key(m.network_sets.back())};
        } else if (pick(2)) {
          auto& n = m.network_sets[any(m.network_sets)];
          n.labels["app"] = pick_of({"a", "b", "ext"});
          if (pick(2)) n.nets = {cidr("10.1.0." + std::to_string(pick(4) * 64) + "/26")};
          c.network_sets = {network_set_key(n)};
        } else {
          const auto i = any(m.network_sets);
          c.network_sets = {network_set_key(m.network_sets[i])};
          m.network_sets.erase(m.network_sets.begin() + static_cast<std::ptrdiff_t>(i));
        }
        return c;
      }
      case 11: {
        for (auto& t : m.tiers)
          if (t.name == "sec") {
            t.order = pick(2) ? 10.0 : 2000000.0;
            if (pick(2)) t.default_action = t.default_action == engine::Action::kPass ? engine::Action::kDeny : engine::Action::kPass;
          }
        c.tiers = true;
        return c;
      }
      default: {  // several at once
        c = add_pod();
        auto more = add_policy();
        c.policies = more.policies;
        return c;
      }
    }
  }

  std::vector<IpAddress> pod_pick_readdress() { return pick(5) == 0 ? std::vector<IpAddress>{} : pod_ips(); }

  engine::Model m;

 private:
  bool allow_runs_ = false;
  std::mt19937 rng_;
  int next_ = 0;
  int address_ = 0;
};

}  // namespace rampart::testing
