// A named notPorts in a rule without a protocol, lowered: packets without
// ports (ICMP, ICMPv6, protocol 47) satisfy it (calico-semantics §4.4), so
// the rule needs an alternative for every protocol but TCP/UDP/SCTP; the
// lowering made TCP/UDP/SCTP copies only, and a Deny with notPorts [web] let
// ICMP through (session 8 review). Tracer verdicts against the evaluator and
// against the spec's answer, both modes.
#include <catch2/catch.hpp>

#include "flow.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"
#include "rampart/compiler/tracer.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"
#include "test_fixtures.h"

using namespace rampart;
using namespace rampart::compiler;

namespace {

struct Probe {
  int family;
  std::uint8_t protocol;
  std::uint16_t port;
};
const std::vector<Probe> kPackets = {{4, 1, 0},     {6, 58, 0},    {4, 47, 0},     {6, 47, 0},   {4, 6, 8080},
                                      {6, 6, 8080},  {4, 6, 9999},  {4, 17, 8080},  {4, 17, 9100}, {4, 132, 8080}};

struct Expect {
  bool cli_to_srv;
  Probe packet;
  bool allowed;
};

struct Case {
  const char* name;
  const char* policy;  // tests/fixtures/…, after not_ports/pods.yaml
  std::vector<Expect> expect;  // the spec's answer for a few flows
};

const std::vector<Case> kCases = {
    {"p7: Deny destination notPorts [web], Allow", "not_ports/p7.yaml",
     {{true, {4, 1, 0}, false}, {true, {6, 58, 0}, false}, {true, {4, 47, 0}, false}, {true, {4, 6, 8080}, true},
      {true, {4, 6, 9999}, false}}},
    {"p6: Allow destination notPorts [web]", "not_ports/p6.yaml",
     {{true, {4, 1, 0}, true}, {true, {6, 58, 0}, true}, {true, {6, 47, 0}, true}, {true, {4, 6, 8080}, false},
      {true, {4, 6, 9999}, true}}},
    {"egress Deny source notPorts [web], Allow", "not_ports/source-deny.yaml",
     {{false, {4, 1, 0}, false}, {false, {6, 58, 0}, false}, {false, {4, 6, 80}, false}}},
    {"GlobalNetworkPolicy egress Deny destination notPorts [web], Allow", "not_ports/g7.yaml",
     {{true, {4, 1, 0}, false}, {true, {6, 58, 0}, false}, {true, {4, 6, 8080}, true}, {true, {4, 6, 9999}, false}}},
    {"notProtocol TCP, Deny destination notPorts [metrics], Allow", "not_ports/not-protocol.yaml",
     {{true, {4, 1, 0}, false}, {true, {6, 58, 0}, false}, {true, {4, 17, 9100}, true}, {true, {4, 17, 8080}, false},
      {true, {4, 6, 9999}, true}}},
};

}  // namespace

TEST_CASE("named notPorts without a protocol: packets without ports match the rule", "[compiler][lower][notports]") {
  for (const auto& c : kCases) {
    INFO(c.name);
    const auto loaded = engine::load_text(testing::join_fixtures({"not_ports/pods.yaml", c.policy}), c.policy);
    REQUIRE_FALSE(loaded.has_errors());
    const auto& m = loaded.model;
    const auto eps = node_endpoints(m, "node-1");
    REQUIRE(eps.size() == 2);
    const std::size_t cli = m.endpoints[0].name == "cli" ? 0 : 1, srv = 1 - cli;
    const engine::Evaluator ev(m);
    for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
      auto rs = lower(m, eps, NodeConfig{.mode = mode});
      REQUIRE(rs);
      CHECK(render(*rs).find("meta l4proto != tcp meta l4proto != udp meta l4proto != sctp") != std::string::npos);
      const auto traced = [&](bool cli_to_srv, const Probe& p) {
        auto t = trace(*rs, testing::flow_packet(m, eps, mode, cli_to_srv ? cli : srv, cli_to_srv ? srv : cli, p.protocol,
                                                 p.port, p.family));
        REQUIRE(t);
        return t->accepted;
      };
      for (const bool cli_to_srv : {true, false})
        for (const auto& p : kPackets) {
          engine::Flow f{.src = engine::FlowEnd::of(m.endpoints[cli_to_srv ? cli : srv], p.family),
                         .dst = engine::FlowEnd::of(m.endpoints[cli_to_srv ? srv : cli], p.family),
                         .ip_version = p.family, .protocol = p.protocol, .dst_port = p.port, .src_port = 40000};
          if (p.protocol == 1 || p.protocol == 58) f.icmp_type = p.family == 4 ? 8 : 128, f.icmp_code = 0;
          INFO((mode == Mode::kOverlay ? "overlay " : "vcn-native ") << (cli_to_srv ? "cli -> srv" : "srv -> cli") << " v"
                                                                     << p.family << " proto " << int(p.protocol) << " port "
                                                                     << p.port);
          CHECK(traced(cli_to_srv, p) == ev.evaluate(f).allowed);
        }
      for (const auto& e : c.expect) {
        INFO((e.cli_to_srv ? "cli -> srv" : "srv -> cli") << " v" << e.packet.family << " proto " << int(e.packet.protocol)
                                                          << " port " << e.packet.port);
        CHECK(traced(e.cli_to_srv, e.packet) == e.allowed);
      }
    }
  }
}
