// One test per row of the decision procedure (calico-semantics.md §4.2–§4.6).
// Every verdict is asked of the flow Evaluator and of the class-based
// Reachability engine; they must agree and match the expectation.
#include <catch2/catch.hpp>

#include "rampart/engine/evaluator.h"
#include "rampart/engine/reachability.h"
#include "support/test_model.h"

using namespace rampart;
using namespace rampart::engine;
using namespace rampart::testing;

namespace {

struct Probe {
  std::uint8_t protocol = proto::kTcp;
  std::uint16_t port = 80;
  int icmp_type = 8, icmp_code = 0;
};

std::size_t index_of(const Model& m, const std::string& ns_name) {
  for (std::size_t i = 0; i < m.endpoints.size(); ++i)
    if (m.endpoints[i].ns + "/" + m.endpoints[i].name == ns_name || m.endpoints[i].name == ns_name) return i;
  FAIL("no endpoint " << ns_name);
  return 0;
}

// Peers are "ns/name" endpoints or IP addresses outside the cluster.
bool allowed(const Model& m, const std::string& src, const std::string& dst, Probe probe = {}) {
  const Evaluator evaluator(m);
  const auto reach = Reachability::compute(m);
  Flow f;
  f.protocol = probe.protocol;
  f.dst_port = probe.port;
  if (probe.protocol == proto::kIcmp) {
    f.icmp_type = probe.icmp_type;
    f.icmp_code = probe.icmp_code;
  }
  std::uint32_t src_class = 0, dst_class = 0;
  auto side = [&](const std::string& text, bool is_src, std::uint32_t& cls) {
    if (auto a = IpAddress::parse(text)) {
      const auto& blocks = is_src ? reach.source_blocks() : reach.destination_blocks();
      for (const auto& b : blocks)
        if (b.addresses.contains(a->v4_value())) cls = b.peer;
      return FlowEnd::external(*a);
    }
    const auto i = index_of(m, text);
    cls = reach.class_of_endpoint(i);
    return FlowEnd::of(m.endpoints[i]);
  };
  f.src = side(src, true, src_class);
  f.dst = side(dst, false, dst_class);
  const bool flow_verdict = evaluator.evaluate(f).allowed;
  const std::uint32_t coordinate = probe.protocol == proto::kIcmp ? static_cast<std::uint32_t>(probe.icmp_type * 256 + probe.icmp_code)
                                   : (probe.protocol == proto::kTcp || probe.protocol == proto::kUdp || probe.protocol == proto::kSctp)
                                       ? probe.port
                                       : 0u;
  const bool class_verdict = reach.allowed(src_class, dst_class).contains(probe.protocol, coordinate);
  INFO(src << " -> " << dst << ": evaluator " << flow_verdict << ", classes " << class_verdict << "\n"
           << describe(evaluator.evaluate(f).egress) << describe(evaluator.evaluate(f).ingress));
  CHECK(flow_verdict == class_verdict);
  return flow_verdict;
}

const char* kInProd = " && projectcalico.org/namespace == 'prod'";

// Two pods in namespace prod (web 10.0.0.1, db 10.0.0.2 with named ports).
TestModel shop() {
  TestModel t;
  t.ns("prod", {{"team", "a"}});
  t.ns("dev", {{"team", "b"}});
  t.tier("default", 1e6);
  t.tier("security", 100);
  t.pod("prod", "web", {{"app", "web"}}, "10.0.0.1", {}, "frontend-sa");
  t.pod("prod", "db", {{"app", "db"}}, "10.0.0.2",
        {{"postgres", proto::kTcp, 5432}, {"metrics", proto::kTcp, 9187}, {"dns", proto::kUdp, 53}});
  t.pod("dev", "tool", {{"app", "tool"}}, "10.0.1.1");
  return t;
}

Rule allow_from(const std::string& selector) {
  Rule r = rule(Action::kAllow);
  r.source.effective_selector = sel(selector);
  return r;
}

}  // namespace

TEST_CASE("no policy: allowed (the namespace profile)", "[eval]") {
  auto t = shop();
  CHECK(allowed(t.model, "prod/web", "prod/db"));
  CHECK(allowed(t.model, "8.8.8.8", "prod/db"));
  CHECK(allowed(t.model, "prod/db", "8.8.8.8"));
}

TEST_CASE("a policy that selects the pod and has no matching rule: end-of-tier drop", "[eval]") {
  auto t = shop();
  t.policy(PolicyKind::kNetworkPolicy, "db", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false);
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));
  CHECK(allowed(t.model, "prod/db", "prod/web"));  // only ingress is governed
  SECTION("a tier whose default action is Pass does not drop") {
    t.model.tiers[0].default_action = Action::kPass;
    CHECK(allowed(t.model, "prod/web", "prod/db"));
  }
}

TEST_CASE("types: a policy governs only the directions it lists", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "web-out", "prod", "default", 10, std::string("app == 'web'") + kInProd,
                     false, true);
  p.ingress.push_back(rule(Action::kDeny));  // present but not governed: ignored
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));  // egress: end-of-tier drop
  CHECK(allowed(t.model, "prod/db", "prod/web"));        // ingress: not governed
}

TEST_CASE("tiers in order: a Deny in an earlier tier wins over a later Allow", "[eval]") {
  auto t = shop();
  t.policy(PolicyKind::kGlobalNetworkPolicy, "block-db", "", "security", 1, "app == 'db'", true, false)
      .ingress.push_back(rule(Action::kDeny));
  t.policy(PolicyKind::kNetworkPolicy, "allow-db", "prod", "default", 1, std::string("app == 'db'") + kInProd, true, false)
      .ingress.push_back(rule(Action::kAllow));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));
  SECTION("tier order decides, not policy order") {
    t.model.tiers[1].order = 2e6;  // security after default now
    CHECK(allowed(t.model, "prod/web", "prod/db"));
  }
}

TEST_CASE("Allow ends every tier: later tiers are not consulted", "[eval]") {
  auto t = shop();
  t.policy(PolicyKind::kGlobalNetworkPolicy, "allow-db", "", "security", 1, "app == 'db'", true, false)
      .ingress.push_back(rule(Action::kAllow));
  t.policy(PolicyKind::kNetworkPolicy, "deny-db", "prod", "default", 1, std::string("app == 'db'") + kInProd, true, false)
      .ingress.push_back(rule(Action::kDeny));
  CHECK(allowed(t.model, "prod/web", "prod/db"));
}

TEST_CASE("Pass leaves the tier; the next tier decides", "[eval]") {
  auto t = shop();
  auto& sec = t.policy(PolicyKind::kGlobalNetworkPolicy, "pass-web", "", "security", 1, "app == 'db'", true, false);
  sec.ingress.push_back(allow_from("app == 'web'"));
  sec.ingress.back().action = Action::kPass;
  sec.ingress.push_back(rule(Action::kDeny));
  t.policy(PolicyKind::kNetworkPolicy, "default-deny", "prod", "default", 1, std::string("all()") + kInProd, true, false);
  // web is passed to the default tier, which has no allow: end-of-tier drop.
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));
  CHECK_FALSE(allowed(t.model, "dev/tool", "prod/db"));  // denied in security
  SECTION("passed past the last tier: the profile allows") {
    t.model.policies.pop_back();
    CHECK(allowed(t.model, "prod/web", "prod/db"));
    CHECK_FALSE(allowed(t.model, "dev/tool", "prod/db"));
  }
}

TEST_CASE("within a tier: Deny before Allow by order", "[eval]") {
  auto t = shop();
  t.policy(PolicyKind::kNetworkPolicy, "zzz-deny", "prod", "default", 5, std::string("app == 'db'") + kInProd, true, false)
      .ingress.push_back(rule(Action::kDeny));
  t.policy(PolicyKind::kNetworkPolicy, "aaa-allow", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false)
      .ingress.push_back(rule(Action::kAllow));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));
  SECTION("unset order is +infinity: last") {
    t.model.policies[0].order.reset();
    CHECK(allowed(t.model, "prod/web", "prod/db"));
  }
}

TEST_CASE("equal order: name/namespace/kind tie-break ('foo-bar' before 'foo', 'foo' before 'foo0')", "[eval]") {
  auto t = shop();
  t.policy(PolicyKind::kNetworkPolicy, "foo", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false)
      .ingress.push_back(rule(Action::kAllow));
  t.policy(PolicyKind::kNetworkPolicy, "foo-bar", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false)
      .ingress.push_back(rule(Action::kDeny));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));  // "foo-bar/" < "foo/"
  t.model.policies[1].name = "foo0";
  CHECK(allowed(t.model, "prod/web", "prod/db"));  // "foo/" < "foo0/"
  t.model.policies[1].name = "foo.bar";
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));  // "foo.bar/" < "foo/"
}

TEST_CASE("Log never decides: evaluation goes on to the next rule", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "db", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false);
  p.ingress.push_back(rule(Action::kLog));
  p.ingress.push_back(allow_from("app == 'web'"));
  CHECK(allowed(t.model, "prod/web", "prod/db"));
  CHECK_FALSE(allowed(t.model, "dev/tool", "prod/db"));
  const Evaluator e(t.model);
  Flow f;
  f.src = FlowEnd::of(t.model.endpoints[0]);
  f.dst = FlowEnd::of(t.model.endpoints[1]);
  f.dst_port = 80;
  const auto d = e.evaluate(f);
  REQUIRE(d.ingress.tiers.size() == 1);
  CHECK(d.ingress.tiers[0].policies[0].logged_rules == std::vector<int>{0});
  CHECK(d.ingress.tiers[0].policies[0].rule_index == 1);
}

TEST_CASE("staged policies are never enforced", "[eval]") {
  auto t = shop();
  t.policy(PolicyKind::kStagedNetworkPolicy, "deny-all", "prod", "default", 1, std::string("all()") + kInProd, true, true)
      .ingress.push_back(rule(Action::kDeny));
  CHECK(allowed(t.model, "prod/web", "prod/db"));
}

TEST_CASE("GlobalNetworkPolicy with a namespaceSelector selects by namespace labels", "[eval]") {
  auto t = shop();
  // namespaceSelector: team == 'a' → (pcns.team == "a") after §1.7 scoping.
  t.policy(PolicyKind::kGlobalNetworkPolicy, "team-a-ingress", "", "default", 10, "pcns.team == 'a'", true, false)
      .ingress.push_back(allow_from("pcns.team == 'a'"));
  CHECK(allowed(t.model, "prod/web", "prod/db"));
  CHECK_FALSE(allowed(t.model, "dev/tool", "prod/db"));
  CHECK(allowed(t.model, "prod/db", "dev/tool"));  // dev is not selected
}

TEST_CASE("network sets are peers: selectors match their CIDRs, external addresses included", "[eval]") {
  auto t = shop();
  t.network_set("", "partners", {{"role", "partner"}}, {"198.51.100.0/24"});
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "db", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, true);
  p.ingress.push_back(allow_from("role == 'partner'"));
  Rule out = rule(Action::kAllow);
  out.destination.effective_selector = sel("role == 'partner'");
  p.egress.push_back(out);
  CHECK(allowed(t.model, "198.51.100.7", "prod/db"));
  CHECK_FALSE(allowed(t.model, "198.51.101.7", "prod/db"));
  CHECK(allowed(t.model, "prod/db", "198.51.100.200"));
  CHECK_FALSE(allowed(t.model, "prod/db", "8.8.8.8"));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));
}

TEST_CASE("notSelector matches external addresses; notNets excludes CIDRs", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kGlobalNetworkPolicy, "egress", "", "default", 10, "app == 'web'", false, true);
  Rule r = rule(Action::kAllow);
  r.destination.effective_not_selector = sel("app == 'db'");
  r.destination.not_nets.push_back(cidr("10.0.1.0/24"));
  p.egress.push_back(r);
  CHECK(allowed(t.model, "prod/web", "8.8.8.8"));        // not an endpoint: notSelector holds
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));  // matches the notSelector
  CHECK_FALSE(allowed(t.model, "prod/web", "dev/tool")); // 10.0.1.1 is in notNets
  CHECK_FALSE(allowed(t.model, "prod/web", "10.0.1.77"));
}

TEST_CASE("nets: a rule's CIDRs of the other family make it skip this family", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kGlobalNetworkPolicy, "egress", "", "default", 10, "app == 'web'", false, true);
  Rule v6 = rule(Action::kAllow);
  v6.destination.nets.push_back(cidr("fd00::/8"));
  p.egress.push_back(v6);
  CHECK_FALSE(allowed(t.model, "prod/web", "8.8.8.8"));
  Rule v4 = rule(Action::kAllow);
  v4.destination.nets.push_back(cidr("8.8.8.0/24"));
  t.model.policies[0].egress.push_back(v4);
  CHECK(allowed(t.model, "prod/web", "8.8.8.8"));
}

TEST_CASE("named ports resolve on the destination endpoint, protocol included", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "db", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false);
  Rule r = allow_from("app == 'web'");
  r.protocol = protocol("TCP");
  r.destination.ports = {named("postgres"), named("dns")};
  p.ingress.push_back(r);
  CHECK(allowed(t.model, "prod/web", "prod/db", {proto::kTcp, 5432}));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db", {proto::kTcp, 5433}));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db", {proto::kUdp, 53}));  // dns is UDP, the rule TCP
  SECTION("without a rule protocol a named port matches the endpoint's own protocol") {
    t.model.policies[0].ingress[0].protocol.reset();
    CHECK(allowed(t.model, "prod/web", "prod/db", {proto::kUdp, 53}));
    CHECK_FALSE(allowed(t.model, "prod/web", "prod/db", {proto::kTcp, 53}));
  }
}

TEST_CASE("named ports in egress rules resolve on the destination peer", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "web", "prod", "default", 10, std::string("app == 'web'") + kInProd, false, true);
  Rule r = rule(Action::kAllow);
  r.protocol = protocol("TCP");
  r.destination.ports = {named("metrics")};
  p.egress.push_back(r);
  CHECK(allowed(t.model, "prod/web", "prod/db", {proto::kTcp, 9187}));
  CHECK_FALSE(allowed(t.model, "prod/web", "dev/tool", {proto::kTcp, 9187}));  // tool declares no metrics port
  CHECK_FALSE(allowed(t.model, "prod/web", "8.8.8.8", {proto::kTcp, 9187}));
}

TEST_CASE("service accounts are matched through projectcalico.org/serviceaccount", "[eval]") {
  auto t = shop();
  // serviceAccounts: {names: [frontend-sa]} → projectcalico.org/serviceaccount in {"frontend-sa"}
  t.policy(PolicyKind::kNetworkPolicy, "db", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false)
      .ingress.push_back(allow_from("projectcalico.org/serviceaccount in {'frontend-sa'}"));
  CHECK(allowed(t.model, "prod/web", "prod/db"));
  CHECK_FALSE(allowed(t.model, "dev/tool", "prod/db"));
}

TEST_CASE("ICMP type and code, notICMP, and protocols without ports", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "db", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false);
  Rule ping = rule(Action::kAllow);
  ping.protocol = protocol("ICMP");
  ping.icmp = IcmpMatch{8, 0};
  p.ingress.push_back(ping);
  Rule gre = rule(Action::kAllow);
  gre.protocol = protocol("47");
  p.ingress.push_back(gre);
  CHECK(allowed(t.model, "prod/web", "prod/db", {proto::kIcmp, 0, 8, 0}));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db", {proto::kIcmp, 0, 8, 1}));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db", {proto::kIcmp, 0, 3, 0}));
  CHECK(allowed(t.model, "prod/web", "prod/db", {47, 0}));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db", {proto::kTcp, 80}));
  t.model.policies[0].ingress[0].icmp.reset();
  t.model.policies[0].ingress[0].not_icmp = IcmpMatch{3, std::nullopt};
  CHECK(allowed(t.model, "prod/web", "prod/db", {proto::kIcmp, 0, 8, 5}));
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db", {proto::kIcmp, 0, 3, 1}));
}

TEST_CASE("ipVersion: an IPv6-only rule does not match IPv4 traffic", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "db", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false);
  Rule r = rule(Action::kAllow);
  r.ip_version = 6;
  p.ingress.push_back(r);
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));
  Rule icmp6 = rule(Action::kAllow);
  icmp6.protocol = protocol("ICMPv6");  // the name implies IPv6
  t.model.policies[0].ingress = {icmp6};
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db", {proto::kIcmpV6, 0, 128, 0}));
}

TEST_CASE("a tier no Tier resource declares runs after declared tiers and drops at its end", "[eval]") {
  auto t = shop();
  t.policy(PolicyKind::kGlobalNetworkPolicy, "ghost-allow", "", "ghost", 1, "app == 'db'", true, false)
      .ingress.push_back(allow_from("app == 'tool'"));
  t.policy(PolicyKind::kNetworkPolicy, "deny-tool", "prod", "default", 1, std::string("app == 'db'") + kInProd, true, false)
      .ingress.push_back(allow_from("app == 'web'"));
  CHECK(allowed(t.model, "prod/web", "prod/db"));        // default tier allows first
  CHECK_FALSE(allowed(t.model, "dev/tool", "prod/db"));  // default tier drops before ghost
}

TEST_CASE("host endpoints: dropped unless a policy or the default-allow profile allows", "[eval]") {
  auto t = shop();
  t.host("node1", {{"role", "node"}}, "192.168.0.10");
  t.host("node2", {{"role", "node"}}, "192.168.0.11", {"projectcalico-default-allow"});
  CHECK_FALSE(allowed(t.model, "prod/web", "node1"));
  CHECK(allowed(t.model, "prod/web", "node2"));
  t.policy(PolicyKind::kGlobalNetworkPolicy, "nodes", "", "default", 1, "role == 'node'", true, false)
      .ingress.push_back(allow_from("app == 'web'"));
  CHECK(allowed(t.model, "prod/web", "node1"));
  CHECK_FALSE(allowed(t.model, "dev/tool", "node2"));  // the policy now governs node2's ingress
}

TEST_CASE("an unknown source port: Allow rules testing it do not match, Deny rules do", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "db", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false);
  Rule r = allow_from("app == 'web'");
  r.protocol = protocol("TCP");
  r.source.ports = {port(1024, 65535)};
  p.ingress.push_back(r);
  CHECK_FALSE(allowed(t.model, "prod/web", "prod/db"));
  const Evaluator e(t.model);
  Flow f;
  f.src = FlowEnd::of(t.model.endpoints[0]);
  f.dst = FlowEnd::of(t.model.endpoints[1]);
  f.dst_port = 80;
  f.src_port = 40000;
  CHECK(e.evaluate(f).allowed);  // a known source port decides exactly
  f.src_port = 80;
  CHECK_FALSE(e.evaluate(f).allowed);
}

TEST_CASE("explain names the deciding rule with its location, or the default", "[eval]") {
  auto t = shop();
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "db", "prod", "default", 10, std::string("app == 'db'") + kInProd, true, false);
  Rule r = rule(Action::kDeny);
  r.source.effective_selector = sel("app == 'tool'");
  r.where = SourceLocation{"policies.yaml", 12, 5};
  p.ingress.push_back(r);
  const Evaluator e(t.model);
  Flow f;
  f.src = FlowEnd::of(t.model.endpoints[2]);
  f.dst = FlowEnd::of(t.model.endpoints[1]);
  f.dst_port = 80;
  auto d = e.evaluate(f);
  CHECK_FALSE(d.allowed);
  CHECK(d.ingress.decided_by.find("rule #1 (Deny)") != std::string::npos);
  CHECK(d.ingress.where.str() == "policies.yaml:12:5");
  CHECK(describe(d.ingress).find("policies.yaml:12:5") != std::string::npos);
  CHECK(d.egress.decided_by.find("no policy selects it") != std::string::npos);
  f.src = FlowEnd::of(t.model.endpoints[0]);
  d = e.evaluate(f);
  CHECK(d.ingress.decided_by.find("end of tier default") != std::string::npos);
}
