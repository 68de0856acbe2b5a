// Differential tests of the flow encoding: on generated clusters, every Z3
// witness is confirmed by the reference evaluator, every "no such flow" agrees
// with exhaustive evaluation over the inventory, and the encoding's verdict on
// concrete flows equals the reference's.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "reference.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"
#include "rampart/engine/selector_matcher.h"
#include "rampart/verify/verifier.h"

using namespace rampart;
using namespace rampart::verify;
using rampart::verify::test::GeneratedCluster;

namespace {

int cases(int fallback) {
  if (const char* env = std::getenv("RAMPART_VERIFY_CASES")) return std::max(1, std::atoi(env));
  return fallback;
}

EndpointWitness external(const char* ip) {
  EndpointWitness w;
  w.external = true;
  w.ip = *IpAddress::parse(ip);
  return w;
}

std::string describe(const EndpointWitness& w) {
  if (w.external) return "external " + w.ip.str();
  std::string s = w.ns + "{";
  for (const auto& [k, v] : w.labels) s += k + "=" + v + ",";
  return s + "} " + w.ip.str();
}

// Every (src, dst, packet) over the inventory, externals included.
template <typename F>
void for_each_inventory_flow(const GeneratedCluster& g, F&& f) {
  std::vector<EndpointWitness> ends = g.pods;
  ends.push_back(external("192.168.1.7"));
  ends.push_back(external("172.16.0.1"));
  ends.push_back(external("10.0.2.9"));
  for (const auto& s : ends)
    for (const auto& d : ends) {
      if (s.external && d.external) continue;
      for (const auto& p : test::probe_packets()) f(s, d, p);
    }
}

bool matches_filter(const EndpointFilter& f, const EndpointWitness& w) {
  if (f.kind == EndpointFilter::Kind::kExternal) return w.external;
  if (w.external) return f.kind == EndpointFilter::Kind::kAny;
  if (f.pod && !engine::SelectorMatcher(*f.pod).matches(w.effective_labels)) return false;
  if (f.ns && !engine::SelectorMatcher(*f.ns).matches(w.namespace_labels)) return false;
  return true;
}

}  // namespace

TEST_CASE("the encoding's verdict on concrete flows equals the reference evaluator's", "[verify][flow]") {
  std::mt19937 rng(1);
  int allowed = 0, denied = 0;
  const int n = cases(60);
  for (int i = 0; i < n; ++i) {
    const GeneratedCluster g = test::generate_cluster(rng);
    std::vector<EndpointWitness> ends = g.pods;
    ends.push_back(external("192.168.1.7"));
    ends.push_back(external("172.16.0.1"));
    const auto packets = test::probe_packets();
    for (int k = 0; k < 4; ++k) {
      const auto& s = ends[std::uniform_int_distribution<std::size_t>(0, ends.size() - 1)(rng)];
      const auto& d = ends[std::uniform_int_distribution<std::size_t>(0, g.pods.size() - 1)(rng)];
      const auto& p = packets[std::uniform_int_distribution<std::size_t>(0, packets.size() - 1)(rng)];
      std::vector<std::string> trace;
      const bool expected = test::reference_allowed(g.model, s, d, p, &trace);
      const Answer a = evaluate_flow(g.model, {s, d, p});
      INFO("cluster " << i << ": " << describe(s) << " -> " << describe(d) << " proto " << int(p.protocol) << " port "
                      << p.dst_port);
      REQUIRE(a.outcome != Outcome::kUnknown);
      CHECK((a.outcome == Outcome::kHolds) == expected);
      (expected ? allowed : denied)++;
    }
  }
  CHECK(allowed > n / 4);
  CHECK(denied > n / 4);
}

TEST_CASE("exists queries: witnesses are confirmed, 'no flow' agrees with the inventory", "[verify][flow]") {
  std::mt19937 rng(2);
  int holds = 0, violated = 0;
  const int n = cases(60);
  for (int i = 0; i < n; ++i) {
    const GeneratedCluster g = test::generate_cluster(rng);
    FlowQuery q;
    q.from.kind = std::uniform_int_distribution<int>(0, 3)(rng) == 0 ? EndpointFilter::Kind::kAny : EndpointFilter::Kind::kPod;
    q.from.pod = *selector::Selector::parse(test::random_pod_selector(rng));
    q.to.pod = *selector::Selector::parse(test::random_pod_selector(rng));
    if (std::uniform_int_distribution<int>(0, 2)(rng) == 0)
      q.to.ns = *selector::Selector::parse(test::random_namespace_selector(rng));
    if (std::uniform_int_distribution<int>(0, 1)(rng)) {
      q.protocol = 6;
      q.port = std::uniform_int_distribution<int>(0, 1)(rng) ? 80 : 8080;
    }
    const Answer a = query(g.model, q);
    INFO("cluster " << i << " from " << q.from.pod->canonical() << " to " << q.to.pod->canonical());
    REQUIRE(a.outcome != Outcome::kUnknown);
    if (a.outcome == Outcome::kHolds) {
      ++holds;
      REQUIRE(a.witness);
      INFO(a.witness->text());
      CHECK(test::reference_allowed(g.model, a.witness->src, a.witness->dst, a.witness->packet));
      CHECK(matches_filter(q.from, a.witness->src));
      CHECK(matches_filter(q.to, a.witness->dst));
      if (q.port) CHECK(a.witness->packet.dst_port == *q.port);
    } else {
      ++violated;
      // No allowed flow for any pods: in particular none among the inventory's.
      for_each_inventory_flow(g, [&](const EndpointWitness& s, const EndpointWitness& d, const PacketWitness& p) {
        if (!matches_filter(q.from, s) || !matches_filter(q.to, d)) return;
        if (q.protocol && p.protocol != *q.protocol) return;
        if (q.port && p.dst_port != *q.port) return;
        INFO(describe(s) << " -> " << describe(d) << " proto " << int(p.protocol) << " port " << p.dst_port);
        CHECK_FALSE(test::reference_allowed(g.model, s, d, p));
      });
    }
  }
  CHECK(holds > n / 5);
  CHECK(violated > n / 20);
}

TEST_CASE("forall queries: counterexamples are denied, 'all allowed' agrees with the inventory", "[verify][flow]") {
  std::mt19937 rng(3);
  int holds = 0, violated = 0;
  const int n = cases(60);
  for (int i = 0; i < n; ++i) {
    const GeneratedCluster g = test::generate_cluster(rng);
    FlowQuery q;
    q.mode = FlowQuery::Mode::kForall;
    q.from.pod = *selector::Selector::parse(test::random_pod_selector(rng));
    q.to.pod = *selector::Selector::parse(test::random_pod_selector(rng));
    q.protocol = 6;
    q.port = 80;
    const Answer a = query(g.model, q);
    REQUIRE(a.outcome != Outcome::kUnknown);
    if (a.outcome == Outcome::kViolated) {
      ++violated;
      REQUIRE(a.witness);
      INFO(a.witness->text());
      CHECK_FALSE(test::reference_allowed(g.model, a.witness->src, a.witness->dst, a.witness->packet));
    } else {
      ++holds;
      for_each_inventory_flow(g, [&](const EndpointWitness& s, const EndpointWitness& d, const PacketWitness& p) {
        if (!matches_filter(q.from, s) || !matches_filter(q.to, d) || p.protocol != 6 || p.dst_port != 80) return;
        CHECK(test::reference_allowed(g.model, s, d, p));
      });
    }
  }
  CHECK(holds > 0);
  CHECK(violated > 0);
}

// ---- against the engine's concrete evaluator (engine::Evaluator) -----------

namespace {

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

bool engine_allowed(const engine::Model& model, const EndpointWitness& s, const EndpointWitness& d,
                    const PacketWitness& p) {
  const engine::Endpoint se = as_endpoint(s), de = as_endpoint(d);
  engine::Flow f;
  f.src = s.external ? engine::FlowEnd::external(s.ip) : engine::FlowEnd{&se, s.ip};
  f.dst = d.external ? engine::FlowEnd::external(d.ip) : engine::FlowEnd{&de, d.ip};
  f.ip_version = p.family;
  f.protocol = p.protocol;
  f.dst_port = p.dst_port;
  f.src_port = p.src_port;
  f.icmp_type = p.icmp_type;
  f.icmp_code = p.icmp_code;
  return engine::Evaluator(model).evaluate(f).allowed;
}

}  // namespace

TEST_CASE("witnesses and verdicts agree with engine::Evaluator", "[verify][flow][evaluator]") {
  std::mt19937 rng(4);
  const int n = cases(60);
  int checked = 0;
  for (int i = 0; i < n; ++i) {
    const GeneratedCluster g = test::generate_cluster(rng);
    // Concrete flows over the inventory: the encoding and the evaluator agree.
    const auto packets = test::probe_packets();
    for (int k = 0; k < 3; ++k) {
      const auto& s = g.pods[std::uniform_int_distribution<std::size_t>(0, g.pods.size() - 1)(rng)];
      const auto& d = g.pods[std::uniform_int_distribution<std::size_t>(0, g.pods.size() - 1)(rng)];
      const auto& p = packets[std::uniform_int_distribution<std::size_t>(0, packets.size() - 1)(rng)];
      const Answer a = evaluate_flow(g.model, {s, d, p});
      REQUIRE(a.outcome != Outcome::kUnknown);
      INFO("cluster " << i << ": " << describe(s) << " -> " << describe(d) << " proto " << int(p.protocol) << " port "
                      << p.dst_port << "\n" << a.witness->text());
      CHECK((a.outcome == Outcome::kHolds) == engine_allowed(g.model, s, d, p));
    }
    // A symbolic witness (pods that are not in the inventory) is confirmed.
    FlowQuery q;
    q.from.pod = *selector::Selector::parse(test::random_pod_selector(rng));
    q.to.pod = *selector::Selector::parse(test::random_pod_selector(rng));
    q.mode = std::uniform_int_distribution<int>(0, 1)(rng) ? FlowQuery::Mode::kExists : FlowQuery::Mode::kForall;
    const Answer a = query(g.model, q);
    REQUIRE(a.outcome != Outcome::kUnknown);
    if (!a.witness) continue;
    INFO("cluster " << i << "\n" << a.witness->text());
    CHECK(engine_allowed(g.model, a.witness->src, a.witness->dst, a.witness->packet) == a.witness->allowed());
    ++checked;
  }
  CHECK(checked > n / 3);
}

TEST_CASE("symbolic diff: every difference is real, 'equivalent' agrees with the inventory", "[verify][diff]") {
  std::mt19937 rng(5);
  const int n = cases(60);
  int differing = 0, same = 0;
  for (int i = 0; i < n; ++i) {
    const GeneratedCluster g = test::generate_cluster(rng);
    engine::Model changed = g.model;
    // One edit: drop a rule, flip an action, or drop a policy.
    auto& p = changed.policies[std::uniform_int_distribution<std::size_t>(0, changed.policies.size() - 1)(rng)];
    auto& rules = p.ingress.empty() ? p.egress : p.ingress;
    const int edit = std::uniform_int_distribution<int>(0, 2)(rng);
    if (edit == 0 && !rules.empty()) {
      rules.erase(rules.begin());
    } else if (edit == 1 && !rules.empty()) {
      rules.back().action = rules.back().action == engine::Action::kAllow ? engine::Action::kDeny : engine::Action::kAllow;
    } else {
      changed.policies.erase(changed.policies.begin() + (&p - changed.policies.data()));
    }
    const DiffResult d = symbolic_diff(g.model, changed, 3);
    REQUIRE(d.outcome != Outcome::kUnknown);
    if (d.outcome == Outcome::kViolated) {
      ++differing;
      for (const auto& diff : d.differences) {
        INFO("cluster " << i << "\nfirst: " << diff.first.text() << "\nsecond: " << diff.second.text());
        const auto& w = diff.first;
        CHECK(test::reference_allowed(g.model, w.src, w.dst, w.packet) == diff.allowed_in_first);
        CHECK(test::reference_allowed(changed, w.src, w.dst, w.packet) == !diff.allowed_in_first);
        CHECK(diff.first.allowed() == diff.allowed_in_first);
        CHECK(diff.second.allowed() == !diff.allowed_in_first);
      }
    } else {
      ++same;
      for_each_inventory_flow(g, [&](const EndpointWitness& s, const EndpointWitness& t, const PacketWitness& pk) {
        CHECK(test::reference_allowed(g.model, s, t, pk) == test::reference_allowed(changed, s, t, pk));
      });
    }
  }
  CHECK(differing > n / 5);
  CHECK(same > 0);
}

// ---- Review findings (session 6, H3): notICMP and `services` answers.

namespace {

constexpr const char* kTwoPods = R"(apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.3}
---
)";

FlowQuery web_to_db(FlowQuery::Mode mode) {
  FlowQuery q;
  q.from.pod = *selector::Selector::parse("app == 'web'");
  q.to.pod = *selector::Selector::parse("app == 'db'");
  // Both in namespace prod, where the policies apply.
  q.from.ns = *selector::Selector::parse("kubernetes.io/metadata.name == 'prod'");
  q.to.ns = q.from.ns;
  q.protocol = 6;
  q.port = 5432;
  q.mode = mode;
  return q;
}

}  // namespace

// notICMP matches only ICMP packets (the evaluator; nft's `icmp type != 8`
// carries the l4proto): a Deny with notICMP and no protocol never denies TCP.
// The encoding read it as NOT(ICMP and type 8), which matched every TCP
// packet: `query` said db was unreachable while eval and the agent allow it.
TEST_CASE("notICMP does not match non-ICMP packets in the encoding", "[verify][flow][icmp]") {
  const auto loaded = engine::load_text(std::string(kTwoPods) + R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-in, namespace: prod}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - action: Deny
    notICMP: {type: 8}
  - action: Allow
)", "noticmp.yaml");
  REQUIRE_FALSE(loaded.has_errors());
  const auto& m = loaded.model;
  REQUIRE(m.endpoints.at(0).name == "db");
  engine::Flow f{.src = engine::FlowEnd::of(m.endpoints.at(1)), .dst = engine::FlowEnd::of(m.endpoints.at(0)),
                 .protocol = engine::proto::kTcp, .dst_port = 5432, .src_port = 40000};
  REQUIRE(engine::Evaluator(m).evaluate(f).allowed);

  const Answer exists = query(m, web_to_db(FlowQuery::Mode::kExists));
  INFO(exists.reason);
  CHECK(exists.outcome == Outcome::kHolds);
  const Answer all = query(m, web_to_db(FlowQuery::Mode::kForall));
  INFO(all.reason);
  CHECK(all.outcome == Outcome::kHolds);  // every TCP 5432 flow web -> db is allowed

  // Near miss: ICMP echo requests (type 8) are not matched by the Deny,
  // every other ICMP type is.
  FlowQuery icmp = web_to_db(FlowQuery::Mode::kExists);
  icmp.protocol = 1;
  icmp.port.reset();
  const Answer echo = query(m, icmp);
  REQUIRE(echo.outcome == Outcome::kHolds);
  REQUIRE(echo.witness);
  CHECK(echo.witness->packet.icmp_type == 8);
}

// docs/verify.md: a sat answer that depends on a `services` match (a free
// boolean) is unknown; query() and symbolic_diff() now re-check the witness's
// flow with the booleans free (they used to answer from one value of them).
TEST_CASE("query and diff answers that depend on a services match are unknown", "[verify][flow][services]") {
  const std::string deny_service = R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-out, namespace: prod}
spec:
  selector: app == 'web'
  types: [Egress]
  egress:
  - action: Deny
    destination:
      services: {name: db, namespace: prod}
  - action: Allow
)";
  const auto loaded = engine::load_text(std::string(kTwoPods) + deny_service, "services.yaml");
  REQUIRE_FALSE(loaded.has_errors());
  for (auto mode : {FlowQuery::Mode::kExists, FlowQuery::Mode::kForall}) {
    const Answer answer = query(loaded.model, web_to_db(mode));
    INFO(answer.reason);
    CHECK(answer.outcome == Outcome::kUnknown);
    CHECK(answer.reason.find("services") != std::string::npos);
  }
  // The same without the Deny: the models differ only where the Service's
  // pods are, which is not known.
  const auto plain = engine::load_text(std::string(kTwoPods) + R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-out, namespace: prod}
spec:
  selector: app == 'web'
  types: [Egress]
  egress:
  - action: Allow
)", "plain.yaml");
  REQUIRE_FALSE(plain.has_errors());
  const DiffResult d = symbolic_diff(plain.model, loaded.model, 3);
  INFO(d.reason);
  CHECK(d.outcome == Outcome::kUnknown);

  // Near miss: an Allow before the services rule decides web -> db whatever
  // the Service holds, so that answer stands.
  const auto first_allow = engine::load_text(std::string(kTwoPods) + R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-out, namespace: prod}
spec:
  selector: app == 'web'
  types: [Egress]
  egress:
  - action: Allow
    destination: {selector: app == 'db'}
  - action: Deny
    destination:
      services: {name: db, namespace: prod}
  - action: Allow
)", "first-allow.yaml");
  REQUIRE_FALSE(first_allow.has_errors());
  const Answer exists = query(first_allow.model, web_to_db(FlowQuery::Mode::kExists));
  INFO(exists.reason);
  CHECK(exists.outcome == Outcome::kHolds);
  const Answer all = query(first_allow.model, web_to_db(FlowQuery::Mode::kForall));
  INFO(all.reason);
  CHECK(all.outcome == Outcome::kHolds);
}
