// Random small clusters and policies for differential tests (deterministic
// per seed): pods labelled app=a|b|c over two nodes, policies in two tiers
// with Allow / Deny / Pass / Log rules over selectors, nets, protocols,
// numeric and named ports.
#pragma once

#include <random>

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
      if (pick(5) == 0) src.nets = {cidr(pick(2) ? "10.244.0.8/29" : "10.244.0.12/30")};
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
      }
      rules.push_back(rule(action, proto, src, dst));
    }
    const bool ingress = pick(3) != 0, egress = !ingress || pick(2);
    std::vector<engine::Rule> in = ingress ? rules : std::vector<engine::Rule>{};
    std::vector<engine::Rule> out = egress ? rules : std::vector<engine::Rule>{};
    add_policy(m, pick(3) ? "ns" : "", "pol" + std::to_string(k), selectors[pick(6)], in, out, ingress, egress,
               pick(2) ? std::optional<double>(pick(5)) : std::nullopt, pick(3) == 0 ? "sec" : "default");
  }
  return m;
}

}  // namespace rampart::testing
