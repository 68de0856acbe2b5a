// Random small clusters and policies for differential tests (deterministic
// per seed): pods labelled app=a|b|c over two nodes, policies in two tiers
// with Allow / Deny / Pass / Log rules over selectors, IPv4 and IPv6 nets, protocols,
// notProtocol, numeric and named ports, and named notPorts without a protocol.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

#include "model_builder.h"

namespace rampart::testing {

inline engine::Model generate(unsigned seed, int local_pods = 4, int remote_pods = 2, int policies = 4) {
  std::mt19937 rng(seed);
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  engine::Model m;
  add_default_tier(m);
  m.tiers.push_back(engine::Tier{.name = "sec", .order = 10, .default_action = pick(3) == 0 ? engine::Action::kPass : engine::Action::kDeny});
  const char* apps[] = {"a", "b", "c"};
  for (int i = 0; i < local_pods + remote_pods; ++i) {
    auto& e = add_pod(m, "ns", "p" + std::to_string(i), {{"app", apps[pick(3)]}},
                      {"10.244.0." + std::to_string(10 + i), "fd00::" + std::to_string(10 + i)},
                      i < local_pods ? "node-1" : "node-2");
    if (pick(2)) e.ports.push_back(engine::NamedPort{.name = "web", .protocol = 6, .port = 80});
  }
  const char* selectors[] = {"app == 'a'", "app == 'b'", "app == 'c'", "", "app in {'a', 'b'}", "app != 'c'"};
  for (int k = 0; k < policies; ++k) {
    std::vector<engine::Rule> rules;
    const int n = 1 + pick(2);
    for (int r = 0; r < n; ++r) {
      const int a = pick(10);
      const engine::Action action = a < 5 ? engine::Action::kAllow : a < 8 ? engine::Action::kDeny : a < 9 ? engine::Action::kPass : engine::Action::kLog;
      std::optional<std::uint8_t> proto;
      if (int p = pick(3); p == 1) proto = 6;
      else if (p == 2) proto = 17;
      auto src = peer(pick(2) ? selectors[pick(6)] : "");
      // Nets of one family each (a rule may not mix them, R12); the other
      // family skips the rule (calico-semantics §4.4). Pod p<i> has
      // 10.244.0.<10+i> and fd00::<10+i> (hex): the IPv6 nets cut the pods
      // elsewhere than the IPv4 ones.
      if (pick(5) == 0) {
        const char* nets[] = {"10.244.0.12/30", "10.244.0.8/29", "fd00::14/126", "fd00::10/127"};
        src.nets = {cidr(nets[pick(4)])};
      }
      auto dst = peer(pick(3) == 0 ? selectors[pick(6)] : "");
      if (proto) {
        switch (pick(5)) {
          case 0: dst.ports = {port(80)}; break;
          case 1: dst.ports = {port(440, 450)}; break;
          case 2: dst.ports = {port(80), port(443)}; break;
          case 3: dst.ports = {named_port("web")}; if (pick(2)) dst.ports.push_back(port(443)); break;
          default: break;
        }
        if (pick(6) == 0) dst.not_ports = {port(443)};
      } else if (pick(4) == 0) {
        // Named notPorts need no protocol (R5); ICMP and other packets
        // without ports satisfy them (calico-semantics §4.4).
        (pick(3) == 0 ? src : dst).not_ports = {named_port("web")};
      }
      rules.push_back(rule(action, proto, src, dst));
      if (!proto && pick(8) == 0) rules.back().not_protocol = protocol(pick(2) ? 6 : 1);
    }
    const bool ingress = pick(3) != 0, egress = !ingress || pick(2);
    std::vector<engine::Rule> in = ingress ? rules : std::vector<engine::Rule>{};
    std::vector<engine::Rule> out = egress ? rules : std::vector<engine::Rule>{};
    add_policy(m, pick(3) ? "ns" : "", "pol" + std::to_string(k), selectors[pick(6)], in, out, ingress, egress,
               pick(2) ? std::optional<double>(pick(5)) : std::nullopt, pick(3) == 0 ? "sec" : "default");
  }
  return m;
}

// The contested-interface case (compiler/src/lowering_parts.h): on one seed
// in three, two of node-1's pods get one host-side interface. Returns the
// indices of the pods claiming it (none: empty).
inline std::vector<std::size_t> share_interface(engine::Model& m, unsigned seed) {
  if (seed % 3 != 0) return {};
  std::vector<std::size_t> local;
  for (std::size_t i = 0; i < m.endpoints.size(); ++i)
    if (m.endpoints[i].node_name == "node-1") local.push_back(i);
  if (local.size() < 2) return {};
  const std::size_t n = local.size(), ia = seed % n, ib = (ia + 1 + (seed / 3) % (n - 1)) % n;
  const std::size_t a = local[ia], b = local[ib];
  m.endpoints[a].interface = m.endpoints[b].interface = "veth-shared";
  return {a, b};
}

}  // namespace rampart::testing

namespace rampart::testing {

// Clusters built to exercise allow runs (lowering_parts.h): many allow-only
// policies in a row with overlapping port ranges over TCP, UDP and SCTP (and
// rules with no protocol or no ports), broken now and then by a Deny, Log or
// Pass policy, in two tiers (one may end in Pass). `probe_ports` holds every
// range boundary and its neighbours.
inline const std::vector<std::uint16_t>& probe_ports() {
  static const std::vector<std::uint16_t> ports{0, 1, 52, 53, 54, 79, 80, 81, 82, 99, 100, 101, 442, 443, 444, 445,
                                                446, 450, 451, 999, 1000, 1001, 8080, 65534, 65535};
  return ports;
}

inline engine::Model generate_runs(unsigned seed, int local_pods = 4, int remote_pods = 3, int policies = 12) {
  std::mt19937 rng(seed);
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  engine::Model m;
  add_default_tier(m);
  m.tiers.push_back(engine::Tier{.name = "sec", .order = 10, .default_action = pick(2) ? engine::Action::kPass : engine::Action::kDeny});
  const char* apps[] = {"a", "b", "c"};
  for (int i = 0; i < local_pods + remote_pods; ++i) {
    auto& e = add_pod(m, "ns", "p" + std::to_string(i), {{"app", apps[pick(3)]}},
                      {"10.244.0." + std::to_string(10 + i), "fd00::" + std::to_string(10 + i)},
                      i < local_pods ? "node-1" : "node-2");
    if (pick(2)) e.ports.push_back(engine::NamedPort{.name = "web", .protocol = 6, .port = 80});
  }
  const char* selectors[] = {"app == 'a'", "app == 'b'", "app == 'c'", "", "app in {'a', 'b'}", "app != 'c'"};
  const std::vector<std::vector<engine::PortSpec>> port_choices{
      {port(80)}, {port(79, 81)}, {port(440, 450)}, {port(445)}, {port(80), port(443)}, {port(1000, 65535)},
      {port(0, 100)}, {port(53)}, {port(52, 54), port(444, 446)}, {port(65535)}, {}};
  for (int k = 0; k < policies; ++k) {
    const int kind = pick(12);  // 0: a Deny policy, 1: Log first, 2: Pass (breaks the run); else allow only
    std::vector<engine::Rule> rules;
    for (int r = 0, n = 1 + pick(3); r < n; ++r) {
      engine::Action action = engine::Action::kAllow;
      if (r == 0 && kind == 0) action = engine::Action::kDeny;
      if (r == 0 && kind == 1) action = engine::Action::kLog;
      if (r == 0 && kind == 2) action = engine::Action::kPass;
      std::optional<std::uint8_t> proto;
      if (int p = pick(5); p == 1 || p == 2) proto = 6;
      else if (p == 3) proto = 17;
      else if (p == 4) proto = 132;
      auto src = peer(pick(3) ? selectors[pick(6)] : "");
      if (pick(6) == 0) src.nets = {cidr(pick(2) ? "10.244.0.8/29" : "10.244.0.12/30")};
      auto dst = peer(pick(4) == 0 ? selectors[pick(6)] : "");
      if (proto || pick(3) == 0) {
        dst.ports = port_choices[static_cast<std::size_t>(pick(static_cast<int>(port_choices.size())))];
        if (pick(8) == 0) dst.ports.push_back(named_port("web"));
        if (pick(10) == 0) dst.not_ports = {port(443)};
      }
      auto rl = rule(action, proto, src, dst);
      if (!proto && pick(8) == 0) rl.protocol = protocol(1);  // ICMP: never dispatched by port
      if (rl.protocol && rl.protocol->number == 1) rl.destination.ports.clear(), rl.destination.not_ports.clear();
      rules.push_back(std::move(rl));
    }
    const bool ingress = pick(4) != 0, egress = !ingress || pick(2);
    add_policy(m, pick(4) ? "ns" : "", "pol" + std::to_string(k), selectors[pick(6)], ingress ? rules : std::vector<engine::Rule>{},
               egress ? rules : std::vector<engine::Rule>{}, ingress, egress,
               pick(2) ? std::optional<double>(pick(4)) : std::nullopt, pick(4) == 0 ? "sec" : "default");
  }
  return m;
}

}  // namespace rampart::testing
