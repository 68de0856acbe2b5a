// The evaluator (engine) and the tracer over the compiled IR agree on every
// flow between generated pods, both modes, IPv4 and IPv6, TCP, UDP, ICMP and
// protocol 47 (no kernel).
#include <catch2/catch.hpp>

#include <algorithm>

#include "flow.h"
#include "gen.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"
#include "rampart/compiler/tracer.h"
#include "rampart/engine/evaluator.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;

TEST_CASE("evaluator and IR tracer agree on generated clusters", "[compiler][differential]") {
  int flows = 0, allowed = 0, contested_flows = 0;
  for (unsigned seed = 1; seed <= 150; ++seed) {
    engine::Model m = generate(seed);
    // Two local pods on one interface (one seed in three) fail closed
    // (lowering_parts.h): all their traffic in vcn-native; what they send in
    // overlay, where traffic to them is dispatched by address.
    const auto shared = share_interface(m, seed);
    const auto contested = [&](std::size_t i) { return std::find(shared.begin(), shared.end(), i) != shared.end(); };
    const engine::Evaluator ev(m);
    const auto eps = node_endpoints(m, "node-1");
    for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
      auto rs = lower(m, eps, NodeConfig{.mode = mode});
      REQUIRE(rs);
      for (size_t s = 0; s < m.endpoints.size(); ++s)
        for (size_t d = 0; d < m.endpoints.size(); ++d) {
          if (s == d) continue;
          if (m.endpoints[s].node_name != "node-1" && m.endpoints[d].node_name != "node-1") continue;
          for (int family : {4, 6})
            for (std::uint8_t p : {std::uint8_t{6}, std::uint8_t{17}, std::uint8_t{1}, std::uint8_t{47}})
              for (std::uint16_t port : {std::uint16_t{80}, std::uint16_t{443}, std::uint16_t{8080}}) {
                // ICMP (ICMPv6 in IPv6) and protocol 47 have no ports: one probe each
                if ((p == 1 || p == 47) && port != 80) continue;
                const std::uint8_t proto = p == 1 && family == 6 ? 58 : p;
                engine::Flow f{.src = engine::FlowEnd::of(m.endpoints[s], family),
                               .dst = engine::FlowEnd::of(m.endpoints[d], family),
                               .ip_version = family, .protocol = proto, .dst_port = port, .src_port = 40000};
                if (proto == 1 || proto == 58) f.icmp_type = family == 4 ? 8 : 128;
                const auto decision = ev.evaluate(f);
                // this node enforces only its own pods' sides
                const bool dropped = contested(s) || (mode == Mode::kVcnNative && contested(d));
                const bool want = !dropped && (m.endpoints[s].node_name != "node-1" || decision.egress.allowed) &&
                                  (m.endpoints[d].node_name != "node-1" || decision.ingress.allowed);
                auto t = trace(*rs, flow_packet(m, eps, mode, s, d, proto, port, family));
                REQUIRE(t);
                if (t->accepted == want) {
                  ++flows;
                  allowed += want;
                  contested_flows += dropped && decision.allowed;
                  continue;
                }
                FAIL("seed " << seed << " " << m.endpoints[s].name << " -> " << m.endpoints[d].name << " proto "
                              << int(proto) << " port " << port << " v" << family << "\n"
                              << engine::describe(decision.egress) << "\n" << engine::describe(decision.ingress) << "\n"
                              << t->str() << render(*rs));
              }
        }
    }
  }
  // the generator produces both outcomes in quantity, and flows the
  // evaluator allows through a contested interface
  CHECK(allowed > flows / 5);
  CHECK(allowed < flows * 4 / 5);
  CHECK(contested_flows > 100);
}

namespace {

std::size_t run_chains(const Ruleset& rs, std::size_t* maps = nullptr) {
  std::size_t n = 0;
  for (const auto& c : rs.tables.front().chains) n += c.name.starts_with("ar.") && c.name.find('.', 3) == std::string::npos;
  if (maps)
    for (const auto& s : rs.tables.front().sets) *maps += s.name.starts_with("ar-");
  return n;
}

}  // namespace

// Allow runs (consecutive allow-only policies merged into one port dispatch)
// on clusters made of them: every protocol (ICMP too) and every port at and
// beside a range boundary. A run that allowed a port, protocol or source no
// rule of it allows shows up here as the tracer accepting what the
// evaluator denies.
TEST_CASE("evaluator and IR tracer agree where allow runs are merged", "[compiler][differential][runs]") {
  std::size_t flows = 0, allowed = 0, runs = 0, maps = 0;
  for (unsigned seed = 1; seed <= 60; ++seed) {
    const engine::Model m = generate_runs(seed);
    const engine::Evaluator ev(m);
    const auto eps = node_endpoints(m, "node-1");
    for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
      auto rs = lower(m, eps, NodeConfig{.mode = mode});
      REQUIRE(rs);
      runs += run_chains(*rs, &maps);
      for (size_t s = 0; s < m.endpoints.size(); ++s)
        for (size_t d = 0; d < m.endpoints.size(); ++d) {
          if (s == d) continue;
          if (m.endpoints[s].node_name != "node-1" && m.endpoints[d].node_name != "node-1") continue;
          for (int family : {4, 6})
            for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}, std::uint8_t{132}, std::uint8_t{1}})
              for (std::uint16_t port : probe_ports()) {
                if (proto == 1 && port != 0) continue;
                const std::uint8_t p = proto == 1 && family == 6 ? 58 : proto;
                engine::Flow f{.src = engine::FlowEnd::of(m.endpoints[s], family),
                               .dst = engine::FlowEnd::of(m.endpoints[d], family),
                               .ip_version = family, .protocol = p, .dst_port = port, .src_port = 40000};
                if (p == 1 || p == 58) f.icmp_type = family == 4 ? 8 : 128;
                const auto decision = ev.evaluate(f);
                const bool want = (m.endpoints[s].node_name != "node-1" || decision.egress.allowed) &&
                                  (m.endpoints[d].node_name != "node-1" || decision.ingress.allowed);
                auto t = trace(*rs, flow_packet(m, eps, mode, s, d, p, port, family));
                REQUIRE(t);
                if (t->accepted == want) {
                  ++flows;
                  allowed += want;
                  continue;
                }
                FAIL("seed " << seed << " " << m.endpoints[s].name << " -> " << m.endpoints[d].name << " proto "
                              << int(p) << " port " << port << " v" << family << " want " << want << "\n"
                              << engine::describe(decision.egress) << "\n" << engine::describe(decision.ingress) << "\n"
                              << t->str() << render(*rs));
              }
        }
    }
  }
  INFO(flows << " flows, " << allowed << " allowed, " << runs << " runs, " << maps << " port maps");
  CHECK(allowed > flows / 10);
  CHECK(allowed < flows * 9 / 10);
  // the generator makes runs, with port dispatch, in quantity
  CHECK(runs > 100);
  CHECK(maps > 100);
}

// The same rules as separate policies and merged into a run give the same
// verdict for every probe, by construction of the test and not of the
// compiler: a run of two allow-only policies, and the same two policies with
// a Deny policy matching nothing in between (which keeps them apart).
TEST_CASE("a merged run allows exactly what its policies allow one by one", "[compiler][runs]") {
  for (unsigned seed = 1; seed <= 40; ++seed) {
    engine::Model merged = generate_runs(seed, 3, 2, 0);
    std::mt19937 rng(seed);
    const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    const std::vector<std::vector<engine::PortSpec>> ports{{port(80)}, {port(79, 81)}, {port(0, 100)}, {port(443), port(1000, 65535)}, {}};
    for (int k = 0; k < 6; ++k) {
      std::vector<engine::Rule> rules;
      for (int r = 0, n = 1 + pick(3); r < n; ++r) {
        const std::uint8_t proto = std::array<std::uint8_t, 3>{6, 17, 132}[static_cast<std::size_t>(pick(3))];
        auto dst = peer();
        dst.ports = ports[static_cast<std::size_t>(pick(5))];
        rules.push_back(rule(engine::Action::kAllow, proto, peer(pick(2) ? "app == 'a'" : ""), dst));
      }
      add_policy(merged, "ns", "pol" + std::to_string(k), "", rules, {}, true, false, k);
    }
    engine::Model apart = merged;
    for (int k = 0; k < 6; ++k)  // a Deny between every two: order 0.5, 1.5, …
      add_policy(apart, "ns", "deny" + std::to_string(k), "", {rule(engine::Action::kDeny, 6, peer("app == 'nobody'"))}, {}, true,
                 false, k + 0.5);
    const auto eps = node_endpoints(merged, "node-1");
    auto a = lower(merged, eps, NodeConfig{});
    auto b = lower(apart, eps, NodeConfig{});
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(run_chains(*a) > 0);
    REQUIRE(run_chains(*b) == 0);
    for (size_t s = 0; s < merged.endpoints.size(); ++s)
      for (size_t d = 0; d < merged.endpoints.size(); ++d) {
        if (s == d || merged.endpoints[d].node_name != "node-1") continue;
        for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}, std::uint8_t{132}})
          for (std::uint16_t port : probe_ports()) {
            const auto pkt = flow_packet(merged, eps, Mode::kVcnNative, s, d, proto, port);
            auto ta = trace(*a, pkt), tb = trace(*b, pkt);
            REQUIRE(ta);
            REQUIRE(tb);
            INFO("seed " << seed << " proto " << int(proto) << " port " << port << "\n" << ta->str() << "\n" << tb->str());
            REQUIRE(ta->accepted == tb->accepted);
          }
      }
  }
}
