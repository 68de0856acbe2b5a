// Property: a Pass rule whose match depends on the unknown source port is
// followed both ways. On random multi-tier models full of such Passes (Log
// rules, default-Pass and default-Deny tiers, named ports, a host endpoint
// and doNotTrack policies), the evaluator without a source port and the
// class engine agree on every flow, and neither says "allowed" where some
// concrete source port is denied. (Adopted from the session-6 reviewer's
// harness; the engine before the fix gave 34 unsound flows in 300 seeds.)
#include <catch2/catch.hpp>

#include <random>

#include "model_builder.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/reachability.h"

using namespace rampart;
using namespace rampart::testing;

namespace {

engine::Model generate(unsigned seed, bool host_endpoint) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  engine::Model m;
  add_default_tier(m);
  m.tiers.front().default_action = engine::Action::kDeny;
  m.tiers.push_back(engine::Tier{.name = "t1", .order = 10, .default_action = pick(2) ? engine::Action::kPass : engine::Action::kDeny});
  m.tiers.push_back(engine::Tier{.name = "t2", .order = 20, .default_action = pick(2) ? engine::Action::kPass : engine::Action::kDeny});
  const char* apps[] = {"a", "b", "c"};
  for (int i = 0; i < 4; ++i) {
    auto& e = add_pod(m, "ns", "p" + std::to_string(i), {{"app", apps[pick(3)]}}, {"10.244.0." + std::to_string(10 + i)});
    if (int w = pick(3); w > 0) e.ports.push_back(engine::NamedPort{.name = "web", .protocol = 6, .port = static_cast<std::uint16_t>(w == 1 ? 80 : 443)});
  }
  if (host_endpoint) {  // a host endpoint: GNPs select it, doNotTrack/preDNAT ones too
    engine::Endpoint h;
    h.kind = engine::EndpointKind::kHostEndpoint;
    h.name = "hep";
    h.labels = {{"app", apps[pick(3)]}};
    h.effective_labels = h.labels;
    h.ips.push_back(ip("10.0.9.1"));
    h.node_name = "node-1";
    if (pick(2)) h.profiles.push_back("projectcalico-default-allow");
    m.endpoints.push_back(h);
  }
  const char* sels[] = {"app == 'a'", "app == 'b'", "", "app in {'a', 'b'}", "app != 'c'"};
  const char* tiers[] = {"t1", "t2", "default"};
  const int npol = 2 + pick(4);
  for (int k = 0; k < npol; ++k) {
    std::vector<engine::Rule> rules;
    for (int r = 0, n = 1 + pick(3); r < n; ++r) {
      const int a = pick(10);
      engine::Rule rl;
      rl.action = a < 3 ? engine::Action::kAllow : a < 5 ? engine::Action::kDeny : a < 9 ? engine::Action::kPass : engine::Action::kLog;
      const int p = pick(4);
      if (p == 1) rl.protocol = protocol(6);
      else if (p == 2) rl.protocol = protocol(17);
      if (pick(2) == 0) {
        if (!rl.protocol) rl.protocol = protocol(pick(2) ? 6 : 17);
        if (pick(4) == 0) rl.source.not_ports = {port(40000, 40010)};
        else rl.source.ports = {port(40000, 40010)};
      }
      if (pick(3) == 0) { const char* s = sels[pick(5)]; rl.source.selector = s; if (*s) rl.source.effective_selector = sel(s); }
      if (rl.protocol && pick(3) == 0) rl.destination.ports = {port(80)};
      else if (pick(5) == 0) rl.destination.ports = {named_port("web")};
      rules.push_back(std::move(rl));
    }
    const bool in = pick(3) != 0, out = !in || pick(2);
    auto& pol = add_policy(m, pick(3) ? "ns" : "", "pol" + std::to_string(k), sels[pick(5)], in ? rules : std::vector<engine::Rule>{},
               out ? rules : std::vector<engine::Rule>{}, in, out, pick(2) ? std::optional<double>(pick(5)) : std::nullopt,
               tiers[pick(3)]);
    if (host_endpoint && pol.ns.empty() && pick(3) == 0) pol.do_not_track = true, pol.apply_on_forward = true;
  }
  return m;
}

}  // namespace

TEST_CASE("an undetermined Pass never yields an unsound allowed, in the evaluator or the class engine", "[reach][property]") {
  long flows = 0;
  for (const bool host_endpoint : {false, true})
    for (unsigned seed = 1; seed <= 300; ++seed) {
      const engine::Model m = generate(seed, host_endpoint);
      const engine::Evaluator ev(m);
      const auto reach = engine::Reachability::compute(m);
      for (std::size_t s = 0; s < m.endpoints.size(); ++s)
        for (std::size_t d = 0; d < m.endpoints.size(); ++d) {
          if (s == d) continue;
          const auto& conns = reach.allowed(reach.class_of_endpoint(s), reach.class_of_endpoint(d));
          for (int probe = 0; probe < 4; ++probe) {
            const std::uint8_t proto = probe < 2 ? 6 : probe == 2 ? 17 : 47;
            const std::uint16_t dport = proto == 47 ? 0 : probe == 1 ? 443 : 80;
            engine::Flow f{.src = engine::FlowEnd::of(m.endpoints[s]), .dst = engine::FlowEnd::of(m.endpoints[d]),
                           .ip_version = 4, .protocol = proto, .dst_port = dport};
            const bool unknown_port = ev.evaluate(f).allowed;
            // Every source-port class of the generated rules: inside 40000-40010 and outside.
            bool every_port = true;
            for (const std::uint16_t sp : {std::uint16_t{40005}, std::uint16_t{50000}}) {
              engine::Flow g = f;
              g.src_port = sp;
              every_port = every_port && ev.evaluate(g).allowed;
            }
            INFO("seed " << seed << (host_endpoint ? " (host endpoint)" : "") << ": " << m.endpoints[s].name << " -> "
                         << m.endpoints[d].name << " protocol " << int(proto) << " port " << dport);
            CHECK(unknown_port == conns.contains(proto, dport));
            if (unknown_port) CHECK(every_port);
            ++flows;
          }
        }
    }
  CHECK(flows > 10000);
}
