#include <catch2/catch.hpp>

#include "flow.h"
#include "model_builder.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/node_lowering.h"
#include "rampart/compiler/render.h"
#include "rampart/compiler/tracer.h"
#include "rampart/engine/evaluator.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;
using engine::Action;

namespace {

// web, db, other on node-1; remote on node-2.
engine::Model shop() {
  engine::Model m;
  add_default_tier(m);
  add_pod(m, "shop", "web", {{"app", "web"}}, {"10.244.0.2", "fd00::2"});
  add_pod(m, "shop", "db", {{"app", "db"}}, {"10.244.0.3", "fd00::3"});
  add_pod(m, "shop", "other", {{"app", "other"}}, {"10.244.0.4", "fd00::4"});
  add_pod(m, "shop", "remote", {{"app", "web"}}, {"10.244.1.2", "fd00:1::2"}, "node-2");
  // db: ingress only from app=web on TCP 5432
  add_policy(m, "shop", "db-in", "app == 'db'", {rule(Action::kAllow, 6, peer("app == 'web'"), [] {
                                                   auto d = peer();
                                                   d.ports = {port(5432)};
                                                   return d;
                                                 }())},
             {}, true, false, 100);
  return m;
}

bool allowed(const engine::Model& m, const Ruleset& rs, const std::vector<NodeEndpoint>& eps, Mode mode, size_t s,
             size_t d, std::uint8_t proto, std::uint16_t port, int family = 4) {
  auto t = trace(rs, flow_packet(m, eps, mode, s, d, proto, port, family));
  REQUIRE(t);
  return t->accepted;
}

}  // namespace

TEST_CASE("node endpoints are the pods on the node with their interfaces", "[compiler][lower]") {
  const auto m = shop();
  const auto eps = node_endpoints(m, "node-1", {{"shop/web", "vethweb"}});
  REQUIRE(eps.size() == 3);
  CHECK(eps[0].interface == "vethweb");
  CHECK(eps[1].interface.starts_with("veth"));
  CHECK(eps[1].interface.size() == 15);
}

TEST_CASE("lowering enforces a default-deny ingress policy in both modes", "[compiler][lower]") {
  const auto m = shop();
  const auto eps = node_endpoints(m, "node-1");
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native"));
    auto rs = lower(m, eps, NodeConfig{.mode = mode});
    REQUIRE(rs);
    CHECK(allowed(m, *rs, eps, mode, 0, 1, 6, 5432));        // web → db:5432
    CHECK(allowed(m, *rs, eps, mode, 0, 1, 6, 5432, 6));     // and over IPv6
    CHECK_FALSE(allowed(m, *rs, eps, mode, 0, 1, 6, 80));    // wrong port
    CHECK_FALSE(allowed(m, *rs, eps, mode, 0, 1, 17, 5432)); // wrong protocol
    CHECK_FALSE(allowed(m, *rs, eps, mode, 2, 1, 6, 5432));  // other → db
    CHECK(allowed(m, *rs, eps, mode, 3, 1, 6, 5432));        // remote web → db
    CHECK(allowed(m, *rs, eps, mode, 1, 0, 6, 80));          // db → web: no policy on web
    CHECK(allowed(m, *rs, eps, mode, 1, 3, 17, 53));         // db → remote
  }
}

TEST_CASE("unknown pod interfaces and addresses fail closed; spoofing is dropped in overlay", "[compiler][lower]") {
  const auto m = shop();
  const auto eps = node_endpoints(m, "node-1");
  auto vcn = lower(m, eps, NodeConfig{.mode = Mode::kVcnNative});
  REQUIRE(vcn);
  auto p = flow_packet(m, eps, Mode::kVcnNative, 0, 2, 6, 80);
  p.iif = "veth_unknown";
  CHECK_FALSE(trace(*vcn, p)->accepted);
  p = flow_packet(m, eps, Mode::kVcnNative, 0, 2, 6, 80);
  p.oif = "veth_unknown";
  CHECK_FALSE(trace(*vcn, p)->accepted);

  auto ov = lower(m, eps, NodeConfig{.mode = Mode::kOverlay});
  REQUIRE(ov);
  REQUIRE(ov->tables.size() == 2);
  auto q = flow_packet(m, eps, Mode::kOverlay, 2, 0, 6, 80);
  q.saddr = ip("10.244.0.99");  // not a known pod
  q.in_port.clear();
  CHECK_FALSE(trace(*ov, q)->accepted);
  // other pretends to be web to reach db:5432
  auto s = flow_packet(m, eps, Mode::kOverlay, 2, 1, 6, 5432);
  s.saddr = ip("10.244.0.2");
  CHECK_FALSE(trace(*ov, s)->accepted);
  s.in_port = eps[0].interface;  // from web's own port it is fine
  CHECK(trace(*ov, s)->accepted);
}

TEST_CASE("egress allow does not skip the destination's ingress", "[compiler][lower]") {
  auto m = shop();
  add_policy(m, "shop", "other-out", "app == 'other'", {}, {rule(Action::kAllow)}, false, true, 1);
  const auto eps = node_endpoints(m, "node-1");
  auto rs = lower(m, eps, NodeConfig{});
  REQUIRE(rs);
  CHECK(allowed(m, *rs, eps, Mode::kVcnNative, 2, 0, 6, 80));
  CHECK_FALSE(allowed(m, *rs, eps, Mode::kVcnNative, 2, 1, 6, 5432));
}

TEST_CASE("tiers, Pass, Deny, Log and the tier default action", "[compiler][lower]") {
  auto m = shop();
  m.tiers.push_back(engine::Tier{.name = "security", .order = 10});
  // security: deny UDP to db, pass the rest of db's ingress, log everything first
  add_policy(m, "", "sec", "app == 'db'",
             {rule(Action::kLog), rule(Action::kDeny, 17), rule(Action::kPass)}, {}, true, false, 1, "security");
  auto eps = node_endpoints(m, "node-1");
  auto rs = lower(m, eps, NodeConfig{});
  REQUIRE(rs);
  CHECK(allowed(m, *rs, eps, Mode::kVcnNative, 0, 1, 6, 5432));  // passed to default: allowed
  CHECK_FALSE(allowed(m, *rs, eps, Mode::kVcnNative, 0, 1, 17, 5432));
  auto t = trace(*rs, flow_packet(m, eps, Mode::kVcnNative, 0, 1, 6, 5432));
  REQUIRE(t->logs.size() == 1);
  CHECK(t->logs[0] == "rampart security/sec ingress rule 0: ");

  // without the Pass: end of tier drops
  m.policies.back().ingress.pop_back();
  rs = lower(m, eps, NodeConfig{});
  CHECK_FALSE(allowed(m, *rs, eps, Mode::kVcnNative, 0, 1, 6, 5432));
  // unless the tier's default action is Pass
  m.tiers.back().default_action = Action::kPass;
  rs = lower(m, eps, NodeConfig{});
  CHECK(allowed(m, *rs, eps, Mode::kVcnNative, 0, 1, 6, 5432));
}

// The kernel refuses a log prefix over 127 bytes, and with it the whole batch.
TEST_CASE("a long policy name keeps its log prefix within 127 bytes, direction and rule index included", "[compiler][lower]") {
  auto m = shop();
  m.tiers.push_back(engine::Tier{.name = "security", .order = 10});
  const std::string name(200, 'n');  // Kubernetes allows 253
  add_policy(m, "", name, "app == 'db'", {rule(Action::kDeny, 17), rule(Action::kLog), rule(Action::kPass)}, {}, true, false, 1,
             "security");
  auto eps = node_endpoints(m, "node-1");
  auto rs = lower(m, eps, NodeConfig{});
  REQUIRE(rs);
  auto t = trace(*rs, flow_packet(m, eps, Mode::kVcnNative, 0, 1, 6, 5432));
  REQUIRE(t->logs.size() == 1);
  const std::string& prefix = t->logs[0];
  CHECK(prefix.size() == 127);
  CHECK(prefix.starts_with("rampart security/nnnn"));
  CHECK(prefix.ends_with("n~ ingress rule 1: "));
}

TEST_CASE("nets, notNets, named ports and per-family filtering", "[compiler][lower]") {
  auto m = shop();
  m.endpoints[1].ports.push_back(engine::NamedPort{.name = "pg", .protocol = 6, .port = 5432});
  m.policies.clear();
  auto dst = peer();
  dst.ports = {named_port("pg")};
  auto src = peer("", {"10.244.0.0/30", "fd00::/126"});
  src.not_nets = {cidr("10.244.0.3/32")};
  add_policy(m, "shop", "db-in", "app == 'db'", {rule(Action::kAllow, 6, src, dst)}, {}, true, false);
  auto v4only = peer("", {"10.244.0.4/32"});
  add_policy(m, "shop", "db-in-2", "app == 'db'", {rule(Action::kAllow, 17, v4only)}, {}, true, false);
  const auto eps = node_endpoints(m, "node-1");
  auto rs = lower(m, eps, NodeConfig{});
  REQUIRE(rs);
  CHECK(allowed(m, *rs, eps, Mode::kVcnNative, 0, 1, 6, 5432));
  // notNets has no IPv6 CIDR: the rule is skipped for IPv6 (§4.4, as the
  // evaluator does), not rendered without its notNets (review H3, finding 4).
  CHECK_FALSE(allowed(m, *rs, eps, Mode::kVcnNative, 0, 1, 6, 5432, 6));
  CHECK_FALSE(allowed(m, *rs, eps, Mode::kVcnNative, 0, 1, 6, 5433));
  CHECK_FALSE(allowed(m, *rs, eps, Mode::kVcnNative, 2, 1, 6, 5432));  // .4 is outside /30
  CHECK(allowed(m, *rs, eps, Mode::kVcnNative, 2, 1, 17, 9));          // the v4-only rule
  CHECK_FALSE(allowed(m, *rs, eps, Mode::kVcnNative, 2, 1, 17, 9, 6)); // not rendered for IPv6
  const std::string text = render(*rs);
  CHECK(text.find("ip daddr . meta l4proto . tcp dport @np4-") != std::string::npos);
}

TEST_CASE("lowering refuses a model that was not normalised", "[compiler][lower]") {
  auto m = shop();
  m.policies[0].effective_selector.reset();
  auto rs = lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  REQUIRE_FALSE(rs);
  CHECK(rs.error().message.find("db-in") != std::string::npos);
}

// Felix's DefaultEndpointToHostAction: a pod's new connection to the node
// (input hook) after its egress policy. accept (Canal, the default) and
// return leave it to the host; drop drops it; replies to the node's own
// connections (ct established) and neighbour discovery pass either way, and
// a pod whose egress policy denies is dropped either way.
TEST_CASE("endpoint to host: drop, accept and return", "[compiler][lower][host]") {
  auto m = shop();
  // other: egress only to TCP 53
  add_policy(m, "shop", "other-out", "app == 'other'", {}, {rule(Action::kAllow, 6, peer(), [] {
               auto d = peer();
               d.ports = {port(53)};
               return d;
             }())},
             false, true, 100);
  const auto eps = node_endpoints(m, "node-1");
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay})
    for (EndpointToHost action : {EndpointToHost::kDrop, EndpointToHost::kAccept, EndpointToHost::kReturn}) {
      INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native") << " action " << static_cast<int>(action));
      auto rs = lower(m, eps, NodeConfig{.mode = mode, .endpoint_to_host = action});
      REQUIRE(rs);
      const auto to_node = [&](size_t pod, std::uint16_t port, std::uint32_t ct = ct_state::kNew, std::uint8_t proto = 6,
                               int family = 4) {
        Packet p = flow_packet(m, eps, mode, pod, pod, proto, port, family);
        p.hook = Hook::kInput;
        p.daddr = family == 4 ? ip("10.244.0.1") : ip("fd00::1");
        p.oif.clear();
        p.out_port.clear();  // to the node: it leaves by no bridge port
        p.ct_state = ct;
        if (proto == 58) p.icmp_type = 135, p.hop_limit = 255;  // neighbour solicitation
        auto t = trace(*rs, p);
        REQUIRE(t);
        return t->accepted;
      };
      const bool open = action != EndpointToHost::kDrop;
      CHECK(to_node(0, 10250) == open);  // web: no egress policy
      CHECK(to_node(0, 10250, ct_state::kNew, 6, 6) == open);
      CHECK(to_node(2, 53) == open);     // other: allowed by its egress policy
      CHECK_FALSE(to_node(2, 10250));    // other: denied by its egress policy, whatever the action
      CHECK(to_node(0, 10250, ct_state::kEstablished));
      CHECK(to_node(2, 10250, ct_state::kEstablished));
      CHECK(to_node(0, 0, ct_state::kNew, 58, 6));
      // pod to pod is forwarded, not for the node: untouched by the action
      CHECK(allowed(m, *rs, eps, mode, 0, 1, 6, 5432));
      CHECK_FALSE(allowed(m, *rs, eps, mode, 2, 1, 6, 5432));
    }
  CHECK(parse_endpoint_to_host("drop").value() == EndpointToHost::kDrop);
  CHECK_FALSE(parse_endpoint_to_host("DROP"));
}

TEST_CASE("interface names and pod interface patterns are checked before they reach nft", "[compiler][lower]") {
  CHECK(parse_interface_name("cni0", false).value() == "cni0");
  CHECK(parse_interface_name("veth*", true).value() == "veth*");
  CHECK(parse_interface_name("oci-ptp.1_a*", true).value() == "oci-ptp.1_a*");
  CHECK(parse_interface_name("abcdefghijklmno", false).value() == "abcdefghijklmno");  // 15: IFNAMSIZ - 1
  CHECK_FALSE(parse_interface_name("abcdefghijklmnop", false));
  CHECK_FALSE(parse_interface_name("veth*", false));  // a bridge is one interface
  for (const char* bad : {"", "*", "ve*th", "veth**", "a b", "a\"b", "a/b", "a:b"}) {
    INFO(bad);
    CHECK_FALSE(parse_interface_name(bad, true));
  }
  CHECK(parse_interface_name("a\"b", true).error().message.find("bad interface pattern 'a\"b'") == 0);
}

// The shape of one allow run (its meaning is checked against the evaluator in
// differential_test.cpp): overlapping TCP ranges split into segments, equal
// segments share a chain, the last port is covered, a UDP rule gets its own
// map, a rule without ports covers 0-65535, and the endpoint chain jumps once.
TEST_CASE("allow runs: one jump, port segments, shared segment chains", "[compiler][lower][runs]") {
  engine::Model m;
  add_default_tier(m);
  add_pod(m, "ns", "srv", {{"app", "srv"}}, {"10.244.0.2"});
  add_pod(m, "ns", "cli", {{"app", "cli"}}, {"10.244.0.3"});
  const auto to = [](std::vector<engine::PortSpec> ports) {
    auto d = peer();
    d.ports = std::move(ports);
    return d;
  };
  add_policy(m, "ns", "a", "app == 'srv'", {rule(Action::kAllow, 6, peer("app == 'cli'"), to({port(80, 90), port(65535)}))}, {},
             true, false, 1);
  add_policy(m, "ns", "b", "app == 'srv'", {rule(Action::kAllow, 6, peer(), to({port(85)})), rule(Action::kAllow, 17, peer(), to({port(53)}))},
             {}, true, false, 2);
  add_policy(m, "ns", "c", "app == 'srv'", {rule(Action::kAllow, 6, peer("", {"192.168.0.0/16"}))}, {}, true, false, 3);
  const auto eps = node_endpoints(m, "node-1");
  auto rs = lower(m, eps, NodeConfig{});
  REQUIRE(rs);
  const Table& t = rs->tables.front();
  const Chain* to_srv = t.find_chain("to.ns.srv");
  REQUIRE(to_srv);
  std::vector<std::string> jumps;
  for (const auto& r : to_srv->rules)
    if (r.verdict.kind == Verdict::Kind::kJump) jumps.push_back(r.verdict.chain);
  REQUIRE(jumps.size() == 1);
  REQUIRE(jumps[0].starts_with("ar."));
  const std::string hash = jumps[0].substr(3);
  const Set* tcp = t.find_set("ar-" + hash + "-tcp");
  const Set* udp = t.find_set("ar-" + hash + "-udp");
  REQUIRE(tcp);
  REQUIRE(udp);
  CHECK(t.find_set("ar-" + hash + "-sctp") == nullptr);
  CHECK(tcp->interval);
  CHECK(tcp->verdict_map);
  std::vector<std::string> els;
  for (const auto& e : tcp->elements) els.push_back(render_element(*tcp, e));
  const std::string c = "ar." + hash + ".tcp.";
  // c's rule (no ports) covers everything; a adds 80-90 and 65535, b 85
  CHECK(els == std::vector<std::string>{"0-79 : goto " + c + "0", "80-84 : goto " + c + "80", "85 : goto " + c + "85",
                                        "86-90 : goto " + c + "80", "91-65534 : goto " + c + "0",
                                        "65535 : goto " + c + "80"});
  REQUIRE(t.find_chain(c + "0"));
  CHECK(t.find_chain(c + "0")->rules.size() == 1);   // c
  CHECK(t.find_chain(c + "80")->rules.size() == 3);  // a (IPv4 and IPv6 selector sets), c
  CHECK(t.find_chain(c + "85")->rules.size() == 4);  // a (twice), b, c
  CHECK(t.find_chain("ar." + hash + ".udp.53")->rules.size() == 1);
  // the head holds only the two protocol dispatches (no rule here needs the head)
  CHECK(t.find_chain("ar." + hash)->rules.size() == 2);
  // and the layout before allow runs is still there on request
  auto unmerged = lower(m, eps, NodeConfig{.allow_runs = false});
  REQUIRE(unmerged);
  std::size_t policy_jumps = 0;
  for (const auto& r : unmerged->tables.front().find_chain("to.ns.srv")->rules)
    policy_jumps += r.verdict.kind == Verdict::Kind::kJump && r.verdict.chain.starts_with("pi.");
  CHECK(policy_jumps == 3);
  for (const auto& ch : unmerged->tables.front().chains) CHECK_FALSE(ch.name.starts_with("ar."));
  // cli → srv: allowed on 80 (a), 85, 65535; not on 91 or 443 (only c's 192.168/16)
  for (std::uint16_t port : {80, 85, 90, 65535}) CHECK(allowed(m, *rs, eps, Mode::kVcnNative, 1, 0, 6, port));
  for (std::uint16_t port : {79, 91, 443, 65534}) CHECK_FALSE(allowed(m, *rs, eps, Mode::kVcnNative, 1, 0, 6, port));
  CHECK(allowed(m, *rs, eps, Mode::kVcnNative, 1, 0, 17, 53));
  CHECK_FALSE(allowed(m, *rs, eps, Mode::kVcnNative, 1, 0, 17, 54));
}

TEST_CASE("a rule the compiler cannot express fails closed, the rest of the node stays lowered", "[compiler][lower]") {
  // Calico service matches are valid policy the compiler cannot express yet.
  // Refusing the policy would stop every later update of the node (the agent
  // retries the same lowering forever); instead the rule becomes a drop that
  // ends its policy's chain.
  auto m = shop();
  engine::Rule svc = rule(Action::kAllow, 6);
  svc.source.services = engine::ServiceMatch{.name = "frontend", .ns = "shop"};
  auto ssh = rule(Action::kAllow, 6, peer("app == 'web'"));
  ssh.destination.ports = {port(22)};
  add_policy(m, "shop", "db-svc", "app == 'db'", {ssh, svc, rule(Action::kAllow, 17)}, {}, true, false, 50);
  const auto eps = node_endpoints(m, "node-1");
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native"));
    auto rs = lower(m, eps, NodeConfig{.mode = mode});
    REQUIRE(rs);
    auto ref = lower_reference(m, eps, NodeConfig{.mode = mode});
    REQUIRE(ref);
    CHECK(*rs == *ref);
    const std::string text = render(*rs);
    CHECK_THAT(text, Catch::Contains("drop comment \"rule 1 fails closed: service match not supported\""));
    CHECK(allowed(m, *rs, eps, mode, 0, 1, 6, 22));          // decided by the rule before it
    CHECK_FALSE(allowed(m, *rs, eps, mode, 0, 1, 6, 5432));  // reaches it: dropped, though db-in (later) allows
    CHECK_FALSE(allowed(m, *rs, eps, mode, 0, 1, 17, 53));   // the rule after it is unreachable
    CHECK(allowed(m, *rs, eps, mode, 0, 2, 6, 5432));        // other pods and directions are untouched
    CHECK(allowed(m, *rs, eps, mode, 1, 0, 6, 80));
    // Fail closed against the evaluator, whose "allowed" holds for every
    // value of the unknown service: the node never allows a flow it does not.
    const engine::Evaluator ev(m);
    int both = 0, narrower = 0;
    for (size_t s = 0; s < m.endpoints.size(); ++s)
      for (size_t d = 0; d < m.endpoints.size(); ++d) {
        if (s == d || (m.endpoints[s].node_name != "node-1" && m.endpoints[d].node_name != "node-1")) continue;
        for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}})
          for (std::uint16_t p : {std::uint16_t{22}, std::uint16_t{53}, std::uint16_t{5432}}) {
            const auto decision = ev.evaluate(engine::Flow{.src = engine::FlowEnd::of(m.endpoints[s], 4),
                                                           .dst = engine::FlowEnd::of(m.endpoints[d], 4),
                                                           .ip_version = 4, .protocol = proto, .dst_port = p,
                                                           .src_port = 40000});
            const bool want = (m.endpoints[s].node_name != "node-1" || decision.egress.allowed) &&
                              (m.endpoints[d].node_name != "node-1" || decision.ingress.allowed);
            const bool got = allowed(m, *rs, eps, mode, s, d, proto, p);
            INFO(m.endpoints[s].name << " -> " << m.endpoints[d].name << " " << int(proto) << "/" << p);
            CHECK((!got || want));
            both += got == want;
            narrower += want && !got;
          }
      }
    CHECK(narrower > 0);  // web -> db:5432 at least
    CHECK(both > narrower);
  }
}

TEST_CASE("an address two local pods claim fails closed both ways in both modes, and is reported", "[compiler][lower][contested]") {
  // A terminating pod and the pod IPAM handed its address to: dispatching
  // that address (overlay) or letting both veths send from it (vcn-native)
  // would judge one pod's traffic by the other's policy.
  const auto base = shop();
  auto m = base;
  add_pod(m, "shop", "ghost", {{"app", "web"}}, {"10.244.0.3", "fd00::3"});  // db's addresses
  const auto eps = node_endpoints(m, "node-1");
  REQUIRE(eps.size() == 4);
  const std::size_t web = 0, db = 1, other = 2, remote = 3, ghost = 4;
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native"));
    const NodeConfig cfg{.mode = mode};
    auto rs = lower(m, eps, cfg);
    REQUIRE(rs);
    auto ref = lower_reference(m, eps, cfg);
    REQUIRE(ref);
    CHECK(*rs == *ref);
    const std::string text = render(*rs);
    CHECK_THAT(text, Catch::Contains("set wl-contested-4 {\n\t\ttype ipv4_addr\n\t\telements = { 10.244.0.3 }"));
    CHECK_THAT(text, Catch::Contains("elements = { fd00::3 }"));
    for (int family : {4, 6}) {
      INFO("IPv" << family);
      CHECK_FALSE(allowed(m, *rs, eps, mode, web, db, 6, 5432, family));     // allowed without the ghost
      CHECK_FALSE(allowed(m, *rs, eps, mode, remote, db, 6, 5432, family));
      CHECK_FALSE(allowed(m, *rs, eps, mode, db, web, 6, 80, family));       // from the address too
      CHECK_FALSE(allowed(m, *rs, eps, mode, ghost, other, 6, 80, family));  // whichever pod sends
      CHECK_FALSE(allowed(m, *rs, eps, mode, db, remote, 17, 53, family));
      CHECK(allowed(m, *rs, eps, mode, web, other, 6, 80, family));          // the rest of the node is untouched
      CHECK(allowed(m, *rs, eps, mode, remote, other, 6, 80, family));
    }
    // Incrementally: the second claim contests the address, the claim's end
    // releases it, each ruleset equal to the full lowering.
    NodeLowering nl("node-1", cfg);
    REQUIRE(nl.reset(base));
    CHECK(nl.fail_closed().contested.empty());
    REQUIRE(nl.update(m, ModelChange{.endpoints = {"shop/ghost"}}));
    CHECK(nl.ruleset() == *rs);
    const FailClosed fc = nl.fail_closed();
    CHECK(fc.contested == std::map<std::string, std::vector<std::string>>{{"10.244.0.3", {"shop/db", "shop/ghost"}},
                                                                           {"fd00::3", {"shop/db", "shop/ghost"}}});
    CHECK(fc.rules.empty());
    auto moved = m;
    moved.endpoints[ghost].ips = {ip("10.244.0.9")};  // readdressed: nothing contested
    REQUIRE(nl.update(moved, ModelChange{.endpoints = {"shop/ghost"}}));
    auto full = lower(moved, node_endpoints(moved, "node-1"), cfg);
    REQUIRE(full);
    CHECK(nl.ruleset() == *full);
    CHECK(nl.fail_closed().contested.empty());
    CHECK(allowed(moved, nl.ruleset(), node_endpoints(moved, "node-1"), mode, web, db, 6, 5432));
  }
}

TEST_CASE("a single pod listing its address twice contests nothing", "[compiler][lower][contested]") {
  auto m = shop();
  m.endpoints[1].ips.push_back(ip("10.244.0.3"));
  const auto eps = node_endpoints(m, "node-1");
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    auto rs = lower(m, eps, NodeConfig{.mode = mode});
    REQUIRE(rs);
    CHECK(allowed(m, *rs, eps, mode, 0, 1, 6, 5432));
    NodeLowering nl("node-1", NodeConfig{.mode = mode});
    REQUIRE(nl.reset(m));
    CHECK(nl.fail_closed().contested.empty());
  }
}

TEST_CASE("NodeLowering reports the rules that fail closed for the node's pods", "[compiler][lower][contested]") {
  auto m = shop();
  engine::Rule svc = rule(Action::kAllow, 6);
  svc.destination.services = engine::ServiceMatch{.name = "dns", .ns = "kube-system"};
  add_policy(m, "shop", "web-out", "app == 'web'", {}, {rule(Action::kAllow, 17), svc}, false, true, 50);
  add_policy(m, "shop", "far-out", "app == 'far'", {}, {svc}, false, true, 60);  // selects no local pod
  NodeLowering nl("node-1", NodeConfig{});
  REQUIRE(nl.reset(m));
  const FailClosed fc = nl.fail_closed();
  CHECK(fc.rules == std::map<std::string, std::vector<std::string>>{
                        {"NetworkPolicy/shop/web-out", {"egress rule 1: service match not supported"}}});
  CHECK(fc.rule_count() == 1);
  CHECK(fc.contested.empty());
  // The policy's removal clears it.
  auto gone = m;
  std::erase_if(gone.policies, [](const engine::Policy& p) { return p.name == "web-out"; });
  REQUIRE(nl.update(gone, ModelChange{.policies = {"NetworkPolicy/shop/web-out"}}));
  CHECK(nl.fail_closed().rules.empty());
}

TEST_CASE("an interface two local pods claim fails closed, and is reported", "[compiler][lower][contested]") {
  // vcn-native dispatches by interface: the map would keep the chain that
  // sorts first — here the unpoliced pod "cache"'s (to.shop.cache before
  // to.shop.db) — so db's policy would not police db's traffic.
  const auto base = shop();
  auto m = base;
  add_pod(m, "shop", "cache", {{"app", "cache"}}, {"10.244.0.9", "fd00::9"});
  const std::map<std::string, std::string> ifs{{"shop/web", "vethweb"}, {"shop/db", "vethdb"}, {"shop/other", "vethother"},
                                               {"shop/cache", "vethdb"}};
  const auto eps = node_endpoints(m, "node-1", ifs);
  REQUIRE(eps.size() == 4);
  const std::size_t web = 0, db = 1, other = 2, remote = 3, cache = 4;
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native"));
    const bool vcn = mode == Mode::kVcnNative;
    const NodeConfig cfg{.mode = mode};
    auto rs = lower(m, eps, cfg);
    REQUIRE(rs);
    auto ref = lower_reference(m, eps, cfg);
    REQUIRE(ref);
    CHECK(*rs == *ref);
    const std::string text = render(*rs);
    CHECK_THAT(text, Catch::Contains(std::string("set ") + (vcn ? "wl-contested-if" : "port-contested") +
                                     " {\n\t\ttype ifname\n\t\telements = { \"vethdb\" }"));
    for (int family : {4, 6}) {
      INFO("IPv" << family);
      CHECK_FALSE(allowed(m, *rs, eps, mode, other, db, 6, 5432, family));   // db's policy denies; cache's chain would allow
      CHECK_FALSE(allowed(m, *rs, eps, mode, db, web, 6, 80, family));       // nothing the interface sends
      CHECK_FALSE(allowed(m, *rs, eps, mode, cache, other, 6, 80, family));  // whichever pod sends
      CHECK_FALSE(allowed(m, *rs, eps, mode, db, remote, 17, 53, family));
      // To the interface: dropped in vcn-native; in overlay dispatch is by
      // address (db's own policy) and the port cannot answer ARP.
      CHECK(allowed(m, *rs, eps, mode, web, db, 6, 5432, family) == !vcn);
      CHECK(allowed(m, *rs, eps, mode, remote, cache, 6, 80, family) == !vcn);
      CHECK(allowed(m, *rs, eps, mode, web, other, 6, 80, family));  // the rest of the node is untouched
      CHECK(allowed(m, *rs, eps, mode, remote, other, 6, 80, family));
      CHECK(allowed(m, *rs, eps, mode, other, web, 17, 53, family));
    }
    // Incrementally: the second claim contests the interface, a new
    // interface for one pod releases it; each ruleset equals the full one.
    NodeLowering nl("node-1", cfg);
    auto before = ifs;
    before.erase("shop/cache");
    REQUIRE(nl.reset(base, before));
    CHECK(nl.fail_closed().contested_interfaces.empty());
    REQUIRE(nl.update(m, ModelChange{.endpoints = {"shop/cache"}}, ifs));
    CHECK(nl.ruleset() == *rs);
    const FailClosed fc = nl.fail_closed();
    CHECK(fc.contested_interfaces == std::map<std::string, std::vector<std::string>>{{"vethdb", {"shop/cache", "shop/db"}}});
    CHECK(fc.contested.empty());
    auto moved = ifs;
    moved["shop/cache"] = "vethcache";  // the CNI names another interface: no model change
    REQUIRE(nl.update(m, ModelChange{}, moved));
    auto full = lower(m, node_endpoints(m, "node-1", moved), cfg);
    REQUIRE(full);
    CHECK(nl.ruleset() == *full);
    CHECK(nl.fail_closed().contested_interfaces.empty());
    CHECK(allowed(m, nl.ruleset(), node_endpoints(m, "node-1", moved), mode, web, db, 6, 5432));
    CHECK_FALSE(allowed(m, nl.ruleset(), node_endpoints(m, "node-1", moved), mode, other, db, 6, 5432));
    // The claim back, then the pod gone.
    REQUIRE(nl.update(m, ModelChange{}, ifs));
    CHECK(nl.ruleset() == *rs);
    REQUIRE(nl.update(base, ModelChange{.endpoints = {"shop/cache"}}, ifs));
    auto gone = lower(base, node_endpoints(base, "node-1", ifs), cfg);
    REQUIRE(gone);
    CHECK(nl.ruleset() == *gone);
    CHECK(nl.fail_closed().contested_interfaces.empty());
  }
}

TEST_CASE("(review H3 #5) overlay: a pod's VXLAN datagram is dropped before policy", "[compiler][lower][overlay]") {
  // The receiving node would decapsulate it and judge the inner packet by a
  // source address the pod chose (Felix: AllowVXLANPacketsFromWorkloads=false).
  const auto m = shop();
  const auto eps = node_endpoints(m, "node-1");
  const std::size_t web = 0, remote = 3;
  auto overlay = lower(m, eps, NodeConfig{.mode = Mode::kOverlay});
  REQUIRE(overlay);
  CHECK_FALSE(allowed(m, *overlay, eps, Mode::kOverlay, web, remote, 17, 8472));  // web has no egress policy
  CHECK_FALSE(allowed(m, *overlay, eps, Mode::kOverlay, web, remote, 17, 8472, 6));
  CHECK(allowed(m, *overlay, eps, Mode::kOverlay, web, remote, 17, 8473));
  CHECK(allowed(m, *overlay, eps, Mode::kOverlay, web, remote, 6, 8472));
  auto to_node = flow_packet(m, eps, Mode::kOverlay, web, remote, 17, 8472);
  to_node.hook = Hook::kInput;  // to the node's own address
  to_node.daddr = ip("10.0.0.2");
  to_node.oif.clear();
  to_node.out_port.clear();
  CHECK_FALSE(trace(*overlay, to_node)->accepted);
  to_node.dport = 8473;
  CHECK(trace(*overlay, to_node)->accepted);
  auto other_port = lower(m, eps, NodeConfig{.mode = Mode::kOverlay, .vxlan_port = 4789});
  REQUIRE(other_port);
  CHECK(allowed(m, *other_port, eps, Mode::kOverlay, web, remote, 17, 8472));
  CHECK_FALSE(allowed(m, *other_port, eps, Mode::kOverlay, web, remote, 17, 4789));
  auto vcn = lower(m, eps, NodeConfig{.mode = Mode::kVcnNative});
  REQUIRE(vcn);
  CHECK(allowed(m, *vcn, eps, Mode::kVcnNative, web, remote, 17, 8472));  // no overlay to decapsulate it
}

TEST_CASE("(review H3 #1) overlay: IPv6 neighbour discovery between pods of the bridge is not policy", "[compiler][lower][overlay]") {
  const auto m = shop();
  const auto eps = node_endpoints(m, "node-1");
  const std::size_t web = 0, db = 1;
  auto rs = lower(m, eps, NodeConfig{.mode = Mode::kOverlay});
  REQUIRE(rs);
  // web asks for db's MAC (NS to db's solicited-node multicast address); db
  // answers (NA, unicast to web). db's policy admits only TCP 5432 from web.
  auto ns = flow_packet(m, eps, Mode::kOverlay, web, db, 58, 0, 6);
  ns.icmp_type = 135;
  ns.hop_limit = 255;  // RFC 4861: every ND message
  ns.daddr = ip("ff02::1:ff00:3");
  CHECK(trace(*rs, ns)->accepted);
  auto na = flow_packet(m, eps, Mode::kOverlay, db, web, 58, 0, 6);
  na.icmp_type = 136;
  na.hop_limit = 255;
  CHECK(trace(*rs, na)->accepted);
  auto echo = flow_packet(m, eps, Mode::kOverlay, web, db, 58, 0, 6);  // other ICMPv6 is policy
  CHECK_FALSE(trace(*rs, echo)->accepted);
}

TEST_CASE("(review H3 #6) overlay: a unicast frame leaves a pod's bridge port only addressed to that pod", "[compiler][lower][overlay]") {
  // A pod answering ARP / ND for another pod's address (CAP_NET_RAW) gets the
  // frames the inet hooks judged by the addressed pod's ingress policy.
  const auto m = shop();
  const auto eps = node_endpoints(m, "node-1");
  const std::size_t web = 0, db = 1, other = 2, remote = 3;
  auto rs = lower(m, eps, NodeConfig{.mode = Mode::kOverlay});
  REQUIRE(rs);
  for (int family : {4, 6}) {
    INFO("IPv" << family);
    auto p = flow_packet(m, eps, Mode::kOverlay, web, db, 6, 5432, family);
    CHECK(trace(*rs, p)->accepted);
    p.out_port = where(eps, other).interface;  // other answered for db's address
    CHECK_FALSE(trace(*rs, p)->accepted);
    auto from_remote = flow_packet(m, eps, Mode::kOverlay, remote, web, 6, 80, family);
    CHECK(trace(*rs, from_remote)->accepted);
    from_remote.out_port = where(eps, other).interface;
    CHECK_FALSE(trace(*rs, from_remote)->accepted);
  }
  // ND to a solicited-node multicast address goes to every port.
  auto ns = flow_packet(m, eps, Mode::kOverlay, web, db, 58, 0, 6);
  ns.icmp_type = 135;
  ns.hop_limit = 255;
  ns.daddr = ip("ff02::1:ff00:3");
  ns.out_port = where(eps, other).interface;
  CHECK(trace(*rs, ns)->accepted);
}

TEST_CASE("(review H3 #9) vcn-native: a forged source is dropped before the conntrack fast path", "[compiler][lower][spoof]") {
  // A pod forging the answer of another pod's established flow (src db:53 ->
  // web) would be accepted by 'ct state established accept' unchecked.
  const auto m = shop();
  const auto eps = node_endpoints(m, "node-1");
  const std::size_t web = 0, db = 1, other = 2;
  auto rs = lower(m, eps, NodeConfig{.mode = Mode::kVcnNative});
  REQUIRE(rs);
  for (int family : {4, 6}) {
    INFO("IPv" << family);
    auto answer = flow_packet(m, eps, Mode::kVcnNative, db, web, 17, 40000, family);
    answer.ct_state = ct_state::kEstablished;
    CHECK(trace(*rs, answer)->accepted);  // the real answer
    answer.iif = where(eps, other).interface;  // other sends it with db's address
    CHECK_FALSE(trace(*rs, answer)->accepted);
    answer.hook = Hook::kInput;  // to the node too
    CHECK_FALSE(trace(*rs, answer)->accepted);
  }
}

TEST_CASE("(review H3 #1) overlay: only bridged ND skips policy in the forward hook", "[compiler][lower][overlay]") {
  const auto m = shop();
  const auto eps = node_endpoints(m, "node-1");
  const std::size_t db = 1, remote = 3;
  auto rs = lower(m, eps, NodeConfig{.mode = Mode::kOverlay});
  REQUIRE(rs);
  // An ICMPv6 packet of an ND type routed from another node (flannel.1) to
  // db is policy: db admits only TCP 5432.
  auto routed = flow_packet(m, eps, Mode::kOverlay, remote, db, 58, 0, 6);
  routed.icmp_type = 136;
  CHECK_FALSE(trace(*rs, routed)->accepted);
}

TEST_CASE("ND skips policy only with hop limit 255 (RFC 4861 7.1.1: receivers drop any other)", "[compiler][lower][overlay]") {
  // A packet of an ND type with another hop limit is no ND to its receiver:
  // it is policy like other ICMPv6 — bridged between pods (overlay) and to
  // the node (both modes).
  const auto m = shop();
  const auto eps = node_endpoints(m, "node-1");
  const std::size_t web = 0, db = 1;
  auto rs = lower(m, eps, NodeConfig{.mode = Mode::kOverlay});
  REQUIRE(rs);
  for (int type : {133, 134, 135, 136}) {
    INFO("type " << type);
    auto na = flow_packet(m, eps, Mode::kOverlay, db, web, 58, 0, 6);  // db admits only TCP 5432 from web
    na.icmp_type = static_cast<std::uint8_t>(type);
    na.hop_limit = 255;
    CHECK(trace(*rs, na)->accepted);
    auto to_db = flow_packet(m, eps, Mode::kOverlay, web, db, 58, 0, 6);
    to_db.icmp_type = static_cast<std::uint8_t>(type);
    to_db.hop_limit = 255;
    CHECK(trace(*rs, to_db)->accepted);
    to_db.hop_limit = 254;
    CHECK_FALSE(trace(*rs, to_db)->accepted);
    to_db.hop_limit = 64;
    CHECK_FALSE(trace(*rs, to_db)->accepted);
  }
  // To the node, with endpoint-to-host drop: only real ND passes.
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    auto host = lower(m, eps, NodeConfig{.mode = mode, .endpoint_to_host = EndpointToHost::kDrop});
    REQUIRE(host);
    Packet p = flow_packet(m, eps, mode, web, web, 58, 0, 6);
    p.hook = Hook::kInput;
    p.daddr = ip("fd00::1");
    p.oif.clear();
    p.out_port.clear();
    p.icmp_type = 135;
    p.hop_limit = 255;
    CHECK(trace(*host, p)->accepted);
    p.hop_limit = 1;
    CHECK_FALSE(trace(*host, p)->accepted);
  }
}
