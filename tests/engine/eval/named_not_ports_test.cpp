// A named notPorts in a rule without a protocol, against packets that have no
// ports (ICMP, ICMPv6, any protocol but TCP/UDP/SCTP). calico-semantics §4.4:
// notPorts is "the negation of each" ports criterion, and such a packet is in
// no named-port set (Felix: `ip daddr . meta l4proto . th dport != @set`), so
// notPorts holds and the rule matches it; a positive `ports` never does.
// The evaluator and the class engine read "never matches" (session 8 review):
// a Deny with destination notPorts [web] let ICMP through.
// Every case is checked with engine::Evaluator and engine::Reachability.
#include <catch2/catch.hpp>

#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"
#include "rampart/engine/reachability.h"
#include "test_fixtures.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

// not_ports/pods.yaml and a policy: a file of tests/fixtures/ or inline text.
LoadResult load_ok(const std::string& policy) {
  const std::string text = policy.ends_with(".yaml") ? rampart::testing::read_fixture(policy) : policy;
  auto loaded = load_text(rampart::testing::read_fixture("not_ports/pods.yaml") + "---\n" + text, "not_ports.yaml");
  for (const auto& d : loaded.diagnostics)
    if (d.severity == Severity::kError) FAIL_CHECK(d.where.str() << ": " << d.message);
  REQUIRE_FALSE(loaded.has_errors());
  return loaded;
}

std::size_t index_of(const Model& m, const std::string& name) {
  for (std::size_t i = 0; i < m.endpoints.size(); ++i)
    if (m.endpoints[i].name == name) return i;
  FAIL("no pod " << name);
  return 0;
}

struct Packet {
  int family = 4;
  std::uint8_t protocol = proto::kTcp;
  std::uint16_t port = 0;                 // TCP/UDP/SCTP destination port
  std::optional<std::uint16_t> src_port;  // the evaluator only (the class engine has none)
};
const Packet kIcmp{4, proto::kIcmp};
const Packet kIcmpV6{6, proto::kIcmpV6};
const Packet kGre{4, 47};

std::string text(const Packet& p) {
  return "v" + std::to_string(p.family) + " proto " + std::to_string(p.protocol) + " port " + std::to_string(p.port);
}

bool evaluator_allows(const Model& m, const std::string& src, const std::string& dst, const Packet& p) {
  Flow f{.src = FlowEnd::of(m.endpoints[index_of(m, src)], p.family),
         .dst = FlowEnd::of(m.endpoints[index_of(m, dst)], p.family),
         .ip_version = p.family,
         .protocol = p.protocol,
         .dst_port = p.port,
         .src_port = p.src_port};
  if (p.protocol == proto::kIcmp || p.protocol == proto::kIcmpV6) f.icmp_type = p.family == 4 ? 8 : 128, f.icmp_code = 0;
  return Evaluator(m).evaluate(f).allowed;
}

bool classes_allow(const Model& m, const std::string& src, const std::string& dst, const Packet& p) {
  const auto reach = Reachability::compute(m, ReachOptions{.ip_version = p.family});
  const auto& conns = reach.allowed(reach.class_of_endpoint(index_of(m, src)), reach.class_of_endpoint(index_of(m, dst)));
  const bool icmp = p.protocol == proto::kIcmp || p.protocol == proto::kIcmpV6;
  return conns.contains(p.protocol, icmp ? (p.family == 4 ? 8u : 128u) * 256 : p.port);
}

// Both engines give `want` (the class engine only when the flow names no
// source port: it has none).
void expect(const Model& m, const std::string& src, const std::string& dst, const Packet& p, bool want) {
  INFO(src << " -> " << dst << " " << text(p));
  CHECK(evaluator_allows(m, src, dst, p) == want);
  if (!p.src_port) CHECK(classes_allow(m, src, dst, p) == want);
}

Packet tcp(std::uint16_t port, int family = 4) { return Packet{family, proto::kTcp, port}; }
Packet udp(std::uint16_t port) { return Packet{4, proto::kUdp, port}; }

}  // namespace

TEST_CASE("a Deny with destination notPorts [web] and no protocol denies ICMP (p7)", "[eval][reach][notports]") {
  const auto loaded = load_ok("not_ports/p7.yaml");
  const auto& m = loaded.model;
  expect(m, "cli", "srv", kIcmp, false);
  expect(m, "cli", "srv", kIcmpV6, false);
  expect(m, "cli", "srv", kGre, false);
  expect(m, "cli", "srv", tcp(8080), true);  // web: not matched by the Deny
  expect(m, "cli", "srv", tcp(8080, 6), true);
  expect(m, "cli", "srv", tcp(9999), false);
  expect(m, "cli", "srv", udp(8080), false);  // web is TCP: UDP 8080 is not in the set
  expect(m, "srv", "cli", kIcmp, true);       // cli has no policy
}

TEST_CASE("an Allow with destination notPorts [web] and no protocol allows ICMP (p6)", "[eval][reach][notports]") {
  const auto loaded = load_ok("not_ports/p6.yaml");
  const auto& m = loaded.model;
  expect(m, "cli", "srv", kIcmp, true);
  expect(m, "cli", "srv", kIcmpV6, true);
  expect(m, "cli", "srv", kGre, true);
  expect(m, "cli", "srv", tcp(8080), false);
  expect(m, "cli", "srv", tcp(9999), true);
  expect(m, "cli", "srv", udp(8080), true);
}

TEST_CASE("a positive named port without a protocol still never matches ICMP", "[eval][reach][notports]") {
  const auto loaded = load_ok(R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: ports, namespace: a}
spec:
  selector: app == 'srv'
  types: [Ingress]
  ingress:
  - action: Allow
    destination: {ports: [web], notPorts: [metrics]}
)");
  const auto& m = loaded.model;
  expect(m, "cli", "srv", kIcmp, false);
  expect(m, "cli", "srv", kIcmpV6, false);
  expect(m, "cli", "srv", kGre, false);
  expect(m, "cli", "srv", tcp(8080), true);
  expect(m, "cli", "srv", tcp(9999), false);
}

TEST_CASE("source notPorts without a protocol: ICMP matches, TCP depends on the source port", "[eval][reach][notports]") {
  SECTION("egress Deny, then Allow") {
    const auto loaded = load_ok("not_ports/source-deny.yaml");
    const auto& m = loaded.model;
    expect(m, "srv", "cli", kIcmp, false);
    expect(m, "srv", "cli", kIcmpV6, false);
    expect(m, "srv", "cli", kGre, false);
    expect(m, "srv", "cli", tcp(80), false);  // source port unknown: the Deny may match
    expect(m, "srv", "cli", Packet{4, proto::kTcp, 80, 8080}, true);
    expect(m, "srv", "cli", Packet{4, proto::kTcp, 80, 8081}, false);
  }
  SECTION("egress Allow alone") {
    const auto loaded = load_ok(R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: out, namespace: a}
spec:
  selector: app == 'srv'
  types: [Egress]
  egress:
  - action: Allow
    source: {notPorts: [web]}
)");
    const auto& m = loaded.model;
    expect(m, "srv", "cli", kIcmp, true);
    expect(m, "srv", "cli", kIcmpV6, true);
    expect(m, "srv", "cli", kGre, true);
    expect(m, "srv", "cli", tcp(80), false);  // an Allow must hold for every source port
    expect(m, "srv", "cli", Packet{4, proto::kTcp, 80, 8081}, true);
    expect(m, "srv", "cli", Packet{4, proto::kTcp, 80, 8080}, false);
  }
}

TEST_CASE("a GlobalNetworkPolicy with egress destination notPorts [web] denies ICMP", "[eval][reach][notports]") {
  const auto loaded = load_ok("not_ports/g7.yaml");
  const auto& m = loaded.model;
  expect(m, "cli", "srv", kIcmp, false);
  expect(m, "cli", "srv", kIcmpV6, false);
  expect(m, "cli", "srv", kGre, false);
  expect(m, "cli", "srv", tcp(8080), true);
  expect(m, "cli", "srv", tcp(8080, 6), true);
  expect(m, "cli", "srv", tcp(9999), false);
}

TEST_CASE("notProtocol TCP with named notPorts: UDP by the set, ICMP matched", "[eval][reach][notports]") {
  const auto loaded = load_ok("not_ports/not-protocol.yaml");
  const auto& m = loaded.model;
  expect(m, "cli", "srv", kIcmp, false);
  expect(m, "cli", "srv", kIcmpV6, false);
  expect(m, "cli", "srv", kGre, false);
  expect(m, "cli", "srv", udp(9100), true);  // metrics: in the set, the Deny does not match
  expect(m, "cli", "srv", udp(9101), false);
  expect(m, "cli", "srv", tcp(9999), true);  // TCP: notProtocol
}
