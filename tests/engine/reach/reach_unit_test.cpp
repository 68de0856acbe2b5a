// ConnectionSet algebra, external blocks and class formation.
#include <catch2/catch.hpp>

#include "rampart/engine/connection_set.h"
#include "rampart/engine/reachability.h"
#include "support/test_model.h"

using namespace rampart;
using namespace rampart::engine;
using namespace rampart::testing;

TEST_CASE("connection sets print as netpol-analyzer does", "[reach][unit]") {
  CHECK(ConnectionSet::all().str() == "All Connections");
  CHECK(ConnectionSet::none().str() == "No Connections");
  const auto tcp80 = ConnectionSet::of(proto::kTcp, IntervalSet::range(80, 80));
  const auto udp53 = ConnectionSet::of(proto::kUdp, IntervalSet::range(53, 54));
  CHECK(tcp80.unite(udp53).str() == "TCP 80,UDP 53-54");
  const auto no_tcp80 = ConnectionSet::all().subtract(tcp80);
  CHECK_FALSE(no_tcp80.contains(proto::kTcp, 80));
  CHECK(no_tcp80.contains(proto::kTcp, 81));
  CHECK(no_tcp80.contains(47, 0));
  CHECK(no_tcp80.unite(tcp80).is_all());
  CHECK(no_tcp80.intersect(tcp80).empty());
  CHECK(ConnectionSet::protocol(proto::kTcp).str() == "TCP 1-65535");
  CHECK(ConnectionSet::of(proto::kIcmp, IntervalSet::range(8 * 256, 8 * 256 + 255)).str() == "ICMP type 8");
  CHECK(ConnectionSet::of(proto::kIcmp, IntervalSet::range(8 * 256, 8 * 256)).str() == "ICMP type 8 code 0");
  CHECK(ConnectionSet::all_but_protocol(proto::kTcp).str() ==
        "ICMP,ICMPv6,SCTP 1-65535,UDP 1-65535,other protocols");
  CHECK(ConnectionSet::all_but_protocol(47).str() ==
        "ICMP,ICMPv6,SCTP 1-65535,TCP 1-65535,UDP 1-65535,other protocols except 47");
}

TEST_CASE("interval sets: union, intersection, difference, complement", "[reach][unit]") {
  IntervalSet a = IntervalSet::range(1, 10);
  a.add(20, 30);
  a.add(11, 12);  // adjacent: merges
  REQUIRE(a.runs().size() == 2);
  CHECK(a.runs()[0] == std::pair<std::uint32_t, std::uint32_t>{1, 12});
  const auto b = IntervalSet::range(5, 25);
  CHECK(a.intersect(b).runs().size() == 2);
  CHECK(a.subtract(b).runs() == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 4}, {26, 30}});
  CHECK(IntervalSet::range(0, UINT32_MAX).complement(0, UINT32_MAX).empty());
  CHECK(a.complement(0, 40).runs() == std::vector<std::pair<std::uint32_t, std::uint32_t>>{{0, 0}, {13, 19}, {31, 40}});
}

TEST_CASE("external blocks are cut at ipBlock boundaries, per direction", "[reach][unit]") {
  TestModel t;
  t.ns("default");
  t.pod("default", "a", {{"app", "a"}}, "10.0.0.1");
  auto& p = t.policy(PolicyKind::kKubernetesNetworkPolicy, "from-block", "default", "default", 1000,
                     "app == 'a' && projectcalico.org/namespace == 'default'", true, false);
  Rule r = rule(Action::kAllow);
  r.source.nets.push_back(cidr("10.0.0.0/8"));
  r.source.not_nets.push_back(cidr("10.10.0.0/16"));
  p.ingress.push_back(r);
  const auto reach = Reachability::compute(t.model);
  std::vector<std::string> texts;
  for (const auto& b : reach.source_blocks()) texts.push_back(b.text());
  CHECK(texts == std::vector<std::string>{"0.0.0.0-9.255.255.255", "10.0.0.0-10.9.255.255", "10.10.0.0-10.10.255.255",
                                          "10.11.0.0-10.255.255.255", "11.0.0.0-255.255.255.255"});
  REQUIRE(reach.destination_blocks().size() == 1);
  CHECK(reach.destination_blocks()[0].text() == "0.0.0.0-255.255.255.255");
  const auto pod = reach.class_of_endpoint(0);
  CHECK(reach.allowed(reach.source_blocks()[1].peer, pod).is_all());
  CHECK(reach.allowed(reach.source_blocks()[2].peer, pod).empty());
  CHECK(reach.allowed(reach.source_blocks()[0].peer, pod).empty());
}

TEST_CASE("endpoints no selector tells apart share a class", "[reach][unit]") {
  TestModel t;
  t.ns("default");
  for (int i = 0; i < 50; ++i) t.pod("default", "web-" + std::to_string(i), {{"app", "web"}, {"pod", std::to_string(i)}});
  t.pod("default", "db", {{"app", "db"}});
  auto& p = t.policy(PolicyKind::kNetworkPolicy, "db", "default", "default", 10,
                     "app == 'db' && projectcalico.org/namespace == 'default'", true, false);
  Rule r = rule(Action::kAllow);
  r.source.effective_selector = sel("app == 'web'");
  p.ingress.push_back(r);
  const auto reach = Reachability::compute(t.model);
  CHECK(reach.endpoint_class_count() == 2);
  CHECK(reach.allowed(reach.class_of_endpoint(0), reach.class_of_endpoint(50)).is_all());
  CHECK(reach.allowed(reach.class_of_endpoint(50), reach.class_of_endpoint(0)).is_all());
  CHECK(reach.isolated(reach.class_of_endpoint(50), Direction::kIngress));
  CHECK_FALSE(reach.isolated(reach.class_of_endpoint(0), Direction::kIngress));
}
