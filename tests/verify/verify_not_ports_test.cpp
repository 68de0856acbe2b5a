// A named notPorts in a rule without a protocol, in the flow encoding: a
// packet without ports (ICMP, ICMPv6) is in no named-port set, so notPorts
// holds for it and the rule matches (calico-semantics §4.4). The evaluator,
// the class engine and the compiler read "never matches" until session 9;
// the encoding already followed the spec. These cases hold it there, and
// check each witness with engine::Evaluator.
#include <catch2/catch.hpp>

#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"
#include "rampart/verify/verifier.h"
#include "test_fixtures.h"

using namespace rampart;
using namespace rampart::verify;

namespace {

// not_ports/pods.yaml and a policy of tests/fixtures/.
engine::Model load(const std::string& policy) {
  auto loaded = engine::load_text(rampart::testing::join_fixtures({"not_ports/pods.yaml", policy}), policy);
  for (const auto& d : loaded.diagnostics)
    if (d.severity == engine::Severity::kError) FAIL_CHECK(d.where.str() << ": " << d.message);
  REQUIRE_FALSE(loaded.has_errors());
  return loaded.model;
}

FlowQuery cli_to_srv(FlowQuery::Mode mode, std::optional<std::uint8_t> protocol) {
  FlowQuery q;
  q.from.pod = *selector::Selector::parse("app == 'cli'");
  q.to.pod = *selector::Selector::parse("app == 'srv'");
  q.from.ns = *selector::Selector::parse("kubernetes.io/metadata.name == 'a'");
  q.to.ns = q.from.ns;
  q.protocol = protocol;
  if (protocol == engine::proto::kIcmp) q.family = 4;
  if (protocol == engine::proto::kIcmpV6) q.family = 6;
  q.mode = mode;
  return q;
}

engine::Endpoint as_endpoint(const EndpointWitness& w) {
  engine::Endpoint e;
  e.kind = engine::EndpointKind::kPod;
  e.ns = w.ns;
  e.name = "witness";
  e.labels = w.labels;
  e.effective_labels = w.effective_labels;
  e.service_account = w.service_account;
  e.ips = {w.ip};
  e.ports = w.ports;
  return e;
}

// The witness's flow as engine::Evaluator decides it.
bool evaluator_allows(const engine::Model& m, const FlowWitness& w) {
  const engine::Endpoint s = as_endpoint(w.src), d = as_endpoint(w.dst);
  engine::Flow f{.src = {&s, w.src.ip}, .dst = {&d, w.dst.ip}, .ip_version = w.packet.family,
                 .protocol = w.packet.protocol, .dst_port = w.packet.dst_port, .src_port = w.packet.src_port,
                 .icmp_type = w.packet.icmp_type, .icmp_code = w.packet.icmp_code};
  return engine::Evaluator(m).evaluate(f).allowed;
}

constexpr const char* kDenyNotWeb = "not_ports/p7.yaml";

constexpr const char* kAllowNotWeb = "not_ports/p6.yaml";

}  // namespace

TEST_CASE("p7: no ICMP flow gets past a Deny with notPorts [web]", "[verify][flow][notports]") {
  const auto m = load(kDenyNotWeb);
  for (const std::uint8_t p : {engine::proto::kIcmp, engine::proto::kIcmpV6}) {
    const Answer a = query(m, cli_to_srv(FlowQuery::Mode::kExists, p));
    INFO("protocol " << int(p) << ": " << a.reason << (a.witness ? "\n" + a.witness->text() : ""));
    CHECK(a.outcome == Outcome::kViolated);
  }
  // TCP to srv's web port gets through: the witness names it.
  const Answer tcp = query(m, cli_to_srv(FlowQuery::Mode::kExists, engine::proto::kTcp));
  REQUIRE(tcp.outcome == Outcome::kHolds);
  REQUIRE(tcp.witness);
  INFO(tcp.witness->text());
  CHECK(evaluator_allows(m, *tcp.witness));
  // Every flow, any protocol: a denied witness, denied by the evaluator too.
  const Answer all = query(m, cli_to_srv(FlowQuery::Mode::kForall, std::nullopt));
  REQUIRE(all.outcome == Outcome::kViolated);
  REQUIRE(all.witness);
  INFO(all.witness->text());
  CHECK_FALSE(evaluator_allows(m, *all.witness));
}

TEST_CASE("p6: every ICMP flow is allowed by an Allow with notPorts [web]", "[verify][flow][notports]") {
  const auto m = load(kAllowNotWeb);
  for (const std::uint8_t p : {engine::proto::kIcmp, engine::proto::kIcmpV6}) {
    const Answer some = query(m, cli_to_srv(FlowQuery::Mode::kExists, p));
    INFO("protocol " << int(p) << ": " << some.reason);
    REQUIRE(some.outcome == Outcome::kHolds);
    REQUIRE(some.witness);
    INFO(some.witness->text());
    CHECK(some.witness->packet.protocol == p);
    CHECK(evaluator_allows(m, *some.witness));
    const Answer every = query(m, cli_to_srv(FlowQuery::Mode::kForall, p));
    INFO(every.reason << (every.witness ? "\n" + every.witness->text() : ""));
    CHECK(every.outcome == Outcome::kHolds);
  }
}

TEST_CASE("the encoding and the evaluator agree on the inventory's ICMP flows", "[verify][flow][notports]") {
  for (const char* policy : {kDenyNotWeb, kAllowNotWeb}) {
    const auto m = load(policy);
    const bool allow_only = policy == kAllowNotWeb;
    for (const int family : {4, 6}) {
      ConcreteFlow flow;
      for (const auto& e : m.endpoints) {
        EndpointWitness w;
        w.ns = e.ns;
        w.labels = e.labels;
        w.effective_labels = e.effective_labels;
        w.service_account = e.service_account;
        for (const auto& ip : e.ips)
          if (ip.family == family) w.ip = ip;
        w.ports = e.ports;
        (e.name == "cli" ? flow.src : flow.dst) = w;
      }
      flow.packet.family = family;
      flow.packet.protocol = family == 4 ? engine::proto::kIcmp : engine::proto::kIcmpV6;
      flow.packet.icmp_type = family == 4 ? 8 : 128;
      flow.packet.icmp_code = 0;
      const Answer a = evaluate_flow(m, flow);
      REQUIRE(a.outcome != Outcome::kUnknown);
      REQUIRE(a.witness);
      INFO((allow_only ? "p6" : "p7") << " v" << family << "\n" << a.witness->text());
      CHECK((a.outcome == Outcome::kHolds) == allow_only);
      CHECK(evaluator_allows(m, *a.witness) == allow_only);
    }
  }
}
