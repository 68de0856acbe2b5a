// The evaluator (engine) and the tracer over the compiled IR agree on every
// flow between generated pods, both modes, IPv4 and IPv6 (no kernel).
#include <catch2/catch.hpp>

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
  int flows = 0, allowed = 0;
  for (unsigned seed = 1; seed <= 150; ++seed) {
    const engine::Model m = generate(seed);
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
            for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}})
              for (std::uint16_t port : {std::uint16_t{80}, std::uint16_t{443}, std::uint16_t{8080}}) {
                engine::Flow f{.src = engine::FlowEnd::of(m.endpoints[s], family),
                               .dst = engine::FlowEnd::of(m.endpoints[d], family),
                               .ip_version = family, .protocol = proto, .dst_port = port, .src_port = 40000};
                const auto decision = ev.evaluate(f);
                // this node enforces only its own pods' sides
                const bool want = (m.endpoints[s].node_name != "node-1" || decision.egress.allowed) &&
                                  (m.endpoints[d].node_name != "node-1" || decision.ingress.allowed);
                auto t = trace(*rs, flow_packet(m, eps, mode, s, d, proto, port, family));
                REQUIRE(t);
                if (t->accepted == want) {
                  ++flows;
                  allowed += want;
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
  // the generator produces both outcomes in quantity
  CHECK(allowed > flows / 5);
  CHECK(allowed < flows * 4 / 5);
}
