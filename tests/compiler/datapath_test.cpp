// Real packets (root, label e2e): pods are network namespaces wired to a node
// namespace — routed veths (vcn-native) or a cni0 bridge (overlay, through
// br_netfilter) — and TCP connections / UDP datagrams / ICMP echoes between
// them must get exactly the verdict of the engine's evaluator and of the IR
// tracer.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "flow.h"
#include "gen.h"
#include "netns.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"
#include "rampart/compiler/tracer.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"
#include "test_fixtures.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;
using engine::Action;

namespace {

struct Cluster {
  Netns node;
  std::vector<std::unique_ptr<Netns>> pods;  // by NodeEndpoint order

  // `ipv6`: each pod's IPv6 address wired too (routed via fe80::1 in
  // vcn-native, on fd00::/64 with the bridge's fd00::1 in overlay).
  // `tag`: prefixed to the namespaces' names.
  Cluster(const engine::Model& m, const std::vector<NodeEndpoint>& eps, Mode mode, bool ipv6 = false,
          const std::string& tag = "")
      : node(tag + "node") {
    const auto ok = [](int rc) {
      if (rc != 0) throw std::runtime_error("wiring failed");
    };
    ok(node.run("sysctl -qw net.ipv4.ip_forward=1"));
    if (ipv6) ok(node.run("sysctl -qw net.ipv6.conf.all.forwarding=1"));
    if (mode == Mode::kOverlay) {
      ok(node.run("sh -c 'ip link add cni0 type bridge && ip addr add 10.244.0.1/24 dev cni0 && ip link set cni0 up'"));
      ok(node.run("sysctl -qw net.bridge.bridge-nf-call-iptables=1"));
      if (ipv6) {
        ok(node.run("ip -6 addr add fd00::1/64 dev cni0 nodad"));
        ok(node.run("sysctl -qw net.bridge.bridge-nf-call-ip6tables=1"));
      }
    }
    for (const auto& ep : eps) {
      pods.push_back(std::make_unique<Netns>(tag + "pod"));
      const Netns& pod = *pods.back();
      const std::string addr = m.endpoints[ep.index].ips.front().str();
      std::string addr6;
      for (const auto& a : m.endpoints[ep.index].ips)
        if (ipv6 && a.family == 6) addr6 = a.str();
      ok(node.run("ip link add " + ep.interface + " type veth peer name eth0 netns " + pod.name()));
      if (mode == Mode::kVcnNative) {
        ok(pod.run("sh -c 'ip addr add " + addr + "/32 dev eth0 && ip link set eth0 up && ip route add default dev eth0'"));
        ok(node.run("sh -c 'ip link set " + ep.interface + " up && ip route add " + addr + "/32 dev " + ep.interface +
                    " && sysctl -qw net.ipv4.conf." + ep.interface + ".proxy_arp=1 && sysctl -qw net.ipv4.neigh." + ep.interface +
                    ".proxy_delay=0'"));  // proxy ARP answers at once
        if (!addr6.empty()) {
          ok(pod.run("sh -c 'ip -6 addr add " + addr6 + "/128 dev eth0 nodad && ip -6 route add default via fe80::1 dev eth0'"));
          ok(node.run("sh -c 'ip -6 addr add fe80::1/64 dev " + ep.interface + " nodad && ip -6 route add " + addr6 +
                      "/128 dev " + ep.interface + "'"));
        }
      } else {
        ok(pod.run("sh -c 'ip addr add " + addr + "/24 dev eth0 && ip link set eth0 up && ip route add default via 10.244.0.1'"));
        if (!addr6.empty()) ok(pod.run("ip -6 addr add " + addr6 + "/64 dev eth0 nodad"));
        ok(node.run("ip link set " + ep.interface + " master cni0 up"));
      }
    }
  }
};

}  // namespace

namespace {

std::string address_of(const engine::Endpoint& e, int family) {
  for (const auto& a : e.ips)
    if (a.family == family) return a.str();
  return "";
}

}  // namespace

// Both families: every pod has an IPv4 and an IPv6 address, the generator's
// nets are of either family, and each flow is probed over IPv4 and IPv6.
// TCP and UDP go out together (probe_all: one timeout per matrix), ICMP and
// ICMPv6 echoes one by one.
// The generator's ports (gen.h): 80, 443, the range 440-450 probed at both
// edges and just outside them (a kernel-only off-by-one at a range's end
// would pass at 443), and 81 outside every port.
constexpr std::uint16_t kProbedPorts[] = {80, 81, 439, 440, 443, 450, 451};

TEST_CASE("real TCP and UDP packets, the evaluator and the IR tracer agree", "[compiler][datapath]") {
  std::map<int, int> probes, passed;  // by family
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    for (unsigned seed : {3u, 11u}) {
      const engine::Model m = generate(seed, 4, 1, 4);
      const engine::Evaluator ev(m);
      const auto eps = node_endpoints(m, "node-1");
      Cluster c(m, eps, mode, true, "h2-");
      auto rs = lower(m, eps, NodeConfig{.mode = mode});
      REQUIRE(rs);
      Kernel k(c.node.name());
      REQUIRE(k.apply(rebuild(*rs)));
      struct Expected {
        int family;
        bool allowed;
        std::string what;
      };
      std::vector<Probe> batch;
      std::vector<Expected> expected;
      const auto where = [&](size_t s, size_t d, int family) {
        std::ostringstream o;
        o << (mode == Mode::kOverlay ? "overlay" : "vcn-native") << " seed " << seed << " v" << family << " "
          << m.endpoints[eps[s].index].name << " -> " << m.endpoints[eps[d].index].name;
        return o.str();
      };
      for (size_t s = 0; s < eps.size(); ++s)
        for (size_t d = 0; d < eps.size(); ++d) {
          if (s == d) continue;
          const auto& src = m.endpoints[eps[s].index];
          const auto& dst = m.endpoints[eps[d].index];
          for (int family : {4, 6}) {
            const std::string addr = address_of(dst, family);
            REQUIRE_FALSE(addr.empty());
            for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}})
              for (std::uint16_t port : kProbedPorts) {
                engine::Flow f{.src = engine::FlowEnd::of(src, family), .dst = engine::FlowEnd::of(dst, family),
                               .ip_version = family, .protocol = proto, .dst_port = port, .src_port = 40000};
                const auto decision = ev.evaluate(f);
                auto t = trace(*rs, flow_packet(m, eps, mode, eps[s].index, eps[d].index, proto, port, family));
                REQUIRE(t);
                std::ostringstream what;
                what << where(s, d, family) << " proto " << int(proto) << " port " << port << "\n"
                     << engine::describe(decision.egress) << "\n" << engine::describe(decision.ingress) << "\n" << t->str();
                INFO(what.str());
                CHECK(t->accepted == decision.allowed);
                batch.push_back(Probe{.client_ns = c.pods[s]->name(), .server_ns = c.pods[d]->name(), .address = addr,
                                      .port = port, .protocol = proto == 6 ? Protocol::kTcp : Protocol::kUdp});
                expected.push_back(Expected{family, decision.allowed, what.str()});
              }
            // ICMP / ICMPv6 echo: no ports (a protocol-less named notPorts holds for it).
            const std::uint8_t icmp = family == 4 ? 1 : 58;
            engine::Flow f{.src = engine::FlowEnd::of(src, family), .dst = engine::FlowEnd::of(dst, family),
                           .ip_version = family, .protocol = icmp, .icmp_type = family == 4 ? 8 : 128};
            const auto decision = ev.evaluate(f);
            auto t = trace(*rs, flow_packet(m, eps, mode, eps[s].index, eps[d].index, icmp, 0, family));
            REQUIRE(t);
            const bool real = raw_delivers(c.pods[s]->name(), c.pods[d]->name(), addr, icmp);
            INFO(where(s, d, family) << " ICMP echo\n" << engine::describe(decision.egress) << "\n"
                                     << engine::describe(decision.ingress) << "\n" << t->str());
            CHECK(t->accepted == decision.allowed);
            CHECK(real == decision.allowed);
            ++probes[family];
            passed[family] += real;
          }
        }
      const auto real = probe_all(batch);
      for (size_t i = 0; i < batch.size(); ++i) {
        INFO(expected[i].what);
        CHECK(real[i] == expected[i].allowed);
        ++probes[expected[i].family];
        passed[expected[i].family] += real[i];
      }
    }
  }
  // both outcomes in both families
  for (int family : {4, 6}) {
    INFO("IPv" << family << ": " << passed[family] << " of " << probes[family] << " probes passed");
    CHECK(passed[family] > 0);
    CHECK(passed[family] < probes[family]);
  }
}

// The same with allow runs: real packets at and beside port range boundaries
// of merged allow-only policies (TCP and UDP; SCTP has no socket helper).
TEST_CASE("real packets agree with the evaluator where allow runs are merged", "[compiler][datapath][runs]") {
  int probes = 0, passed = 0;
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    for (unsigned seed : {5u, 9u}) {
      const engine::Model m = generate_runs(seed, 4, 0, 10);
      const engine::Evaluator ev(m);
      const auto eps = node_endpoints(m, "node-1");
      Cluster c(m, eps, mode);
      auto rs = lower(m, eps, NodeConfig{.mode = mode});
      REQUIRE(rs);
      std::size_t runs = 0;
      for (const auto& ch : rs->tables.front().chains) runs += ch.name.starts_with("ar-") || ch.name.starts_with("ar.");
      REQUIRE(runs > 0);
      Kernel k(c.node.name());
      REQUIRE(k.apply(rebuild(*rs)));
      for (size_t s = 0; s < eps.size(); ++s)
        for (size_t d = 0; d < eps.size(); ++d) {
          if (s == d) continue;
          const auto& src = m.endpoints[eps[s].index];
          const auto& dst = m.endpoints[eps[d].index];
          for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}})
            for (std::uint16_t port : {std::uint16_t{53}, std::uint16_t{81}, std::uint16_t{82}, std::uint16_t{445}, std::uint16_t{1000}}) {
              engine::Flow f{.src = engine::FlowEnd::of(src), .dst = engine::FlowEnd::of(dst), .protocol = proto,
                             .dst_port = port, .src_port = 40000};
              const auto decision = ev.evaluate(f);
              auto t = trace(*rs, flow_packet(m, eps, mode, eps[s].index, eps[d].index, proto, port));
              REQUIRE(t);
              const std::string addr = dst.ips.front().str();
              const bool real = proto == 6 ? tcp_connects(c.pods[s]->name(), c.pods[d]->name(), addr, port)
                                           : udp_delivers(c.pods[s]->name(), c.pods[d]->name(), addr, port);
              INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native")
                   << " seed " << seed << " " << src.name << " -> " << dst.name << " proto " << int(proto) << " port "
                   << port << "\n" << engine::describe(decision.egress) << "\n" << engine::describe(decision.ingress)
                   << "\n" << t->str());
              CHECK(t->accepted == decision.allowed);
              CHECK(real == decision.allowed);
              ++probes;
              passed += real;
            }
        }
    }
  }
  CHECK(passed > 0);
  CHECK(passed < probes);
}

TEST_CASE("without our table every probe passes (the wiring itself works)", "[compiler][datapath]") {
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    const engine::Model m = generate(3, 3, 0, 0);
    const auto eps = node_endpoints(m, "node-1");
    Cluster c(m, eps, mode, true, "h2-");
    for (int family : {4, 6}) {
      INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native") << " v" << family);
      const std::string addr = address_of(m.endpoints[eps[1].index], family);
      CHECK(tcp_connects(c.pods[0]->name(), c.pods[1]->name(), addr, 80));
      CHECK(udp_delivers(c.pods[0]->name(), c.pods[1]->name(), addr, 53));
      CHECK(raw_delivers(c.pods[0]->name(), c.pods[1]->name(), addr, family == 4 ? 1 : 58));
    }
  }
}

// Two local pods claiming one interface (lowering_parts.h): the real veth
// belongs to db; "cache" (no policy) claims it too, and its chain sorts
// first, so without the contested set the dispatch map would police db's
// traffic with cache's (nothing) and let other → db through.
TEST_CASE("an interface two local pods claim passes no real packet", "[compiler][datapath][contested]") {
  engine::Model m;
  add_default_tier(m);
  add_pod(m, "ns", "web", {{"app", "web"}}, {"10.244.0.10"});
  add_pod(m, "ns", "db", {{"app", "db"}}, {"10.244.0.11"});
  add_pod(m, "ns", "other", {{"app", "other"}}, {"10.244.0.12"});
  auto dst = peer();
  dst.ports = {port(80)};
  add_policy(m, "ns", "db", "app == 'db'", {rule(Action::kAllow, 6, peer("app == 'web'"), dst)}, {}, true, false);
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native"));
    const auto wired = node_endpoints(m, "node-1");
    REQUIRE(wired.size() == 3);
    Cluster c(m, wired, mode);  // veths for web, db, other only
    auto claimed = m;
    add_pod(claimed, "ns", "cache", {{"app", "cache"}}, {"10.244.0.13"}).interface = wired[1].interface;
    const auto eps = node_endpoints(claimed, "node-1");
    const std::string web = c.pods[0]->name(), db = c.pods[1]->name(), other = c.pods[2]->name();
    Kernel k(c.node.name());
    auto plain = lower(m, wired, NodeConfig{.mode = mode});
    REQUIRE(plain);
    REQUIRE(k.apply(rebuild(*plain)));
    CHECK(tcp_connects(web, db, "10.244.0.11", 80));  // db's policy, as the evaluator says
    CHECK_FALSE(tcp_connects(other, db, "10.244.0.11", 80));
    CHECK(tcp_connects(db, other, "10.244.0.12", 80));
    auto rs = lower(claimed, eps, NodeConfig{.mode = mode});
    REQUIRE(rs);
    REQUIRE(k.apply(rebuild(*rs)));
    CHECK_FALSE(tcp_connects(other, db, "10.244.0.11", 80));  // a wrong allow without the contested set (vcn-native)
    CHECK_FALSE(tcp_connects(web, db, "10.244.0.11", 80));    // vcn-native: dropped; overlay: db cannot answer ARP
    CHECK_FALSE(tcp_connects(db, other, "10.244.0.12", 80));  // nothing the interface sends
    CHECK_FALSE(udp_delivers(db, web, "10.244.0.10", 53));
    CHECK(tcp_connects(web, other, "10.244.0.12", 80));       // the rest of the node is untouched
    CHECK(udp_delivers(other, web, "10.244.0.10", 53));
  }
}

// A named notPorts in a rule without a protocol (calico-semantics §4.4):
// packets without ports satisfy it. Session 8's review saw the kernel let
// ICMP past `Deny destination.notPorts: [web]` (p7), and drop it under
// `Allow destination.notPorts: [web]` (p6). Real ICMP and ICMPv6 echoes,
// protocol 253 datagrams and TCP connections, against the spec's answer, the
// evaluator and the tracer; the kernel's rules read back as the IR.
TEST_CASE("a named notPorts without a protocol: real ICMP, ICMPv6, protocol 253 and TCP", "[compiler][datapath][notports]") {
  struct Want {
    int family;
    std::uint8_t protocol;
    std::uint16_t port;
    bool allowed;
  };
  // Conntrack's generic tracker keys protocol 253 by addresses only: one
  // probe per address pair.
  const std::vector<std::pair<std::string, std::vector<Want>>> cases = {
      {"not_ports/p7.yaml",
       {{4, 1, 0, false}, {6, 58, 0, false}, {4, 253, 0, false}, {4, 6, 8080, true}, {6, 6, 8080, true}, {4, 6, 9999, false}}},
      {"not_ports/p6.yaml",
       {{4, 1, 0, true}, {6, 58, 0, true}, {4, 253, 0, true}, {6, 253, 0, true}, {4, 6, 8080, false}, {6, 6, 9999, true}}},
  };
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay})
    for (const auto& [policy, wants] : cases) {
      const std::string yaml = join_fixtures({"not_ports/pods.yaml", policy});
      const auto loaded = engine::load_text(yaml, policy);
      REQUIRE_FALSE(loaded.has_errors());
      const auto& m = loaded.model;
      const engine::Evaluator ev(m);
      const auto eps = node_endpoints(m, "node-1");
      REQUIRE(eps.size() == 2);
      const std::size_t cli = m.endpoints[eps[0].index].name == "cli" ? 0 : 1, srv = 1 - cli;
      Cluster c(m, eps, mode, true, "h1-");  // fresh namespaces: no conntrack entry from the case before
      auto rs = lower(m, eps, NodeConfig{.mode = mode});
      REQUIRE(rs);
      Kernel k(c.node.name());
      REQUIRE(k.apply(rebuild(*rs)));
      const auto drift = k.drift(*rs);
      REQUIRE(drift);
      CHECK(*drift == "");
      const auto address = [&](std::size_t pod, int family) {
        for (const auto& a : m.endpoints[eps[pod].index].ips)
          if (a.family == family) return a.str();
        return std::string();
      };
      for (const auto& w : wants) {
        engine::Flow f{.src = engine::FlowEnd::of(m.endpoints[eps[cli].index], w.family),
                       .dst = engine::FlowEnd::of(m.endpoints[eps[srv].index], w.family),
                       .ip_version = w.family, .protocol = w.protocol, .dst_port = w.port, .src_port = 40000};
        if (w.protocol == 1 || w.protocol == 58) f.icmp_type = w.family == 4 ? 8 : 128;
        auto t = trace(*rs, flow_packet(m, eps, mode, eps[cli].index, eps[srv].index, w.protocol, w.port, w.family));
        REQUIRE(t);
        const std::string addr = address(srv, w.family);
        const bool real = w.protocol == 6 ? tcp_connects(c.pods[cli]->name(), c.pods[srv]->name(), addr, w.port, 1500)
                                          : raw_delivers(c.pods[cli]->name(), c.pods[srv]->name(), addr, w.protocol, 1500);
        INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native") << " v" << w.family << " proto " << int(w.protocol)
                                                                 << " port " << w.port << "\n" << yaml << "\n" << t->str()
                                                                 << render(*rs));
        CHECK(real == w.allowed);
        CHECK(ev.evaluate(f).allowed == w.allowed);
        CHECK(t->accepted == w.allowed);
      }
      // the wiring works both ways: srv (no egress policy) reaches cli
      CHECK(raw_delivers(c.pods[srv]->name(), c.pods[cli]->name(), address(cli, 4), 1, 1500));
      CHECK(raw_delivers(c.pods[srv]->name(), c.pods[cli]->name(), address(cli, 6), 58, 1500));
    }
}

namespace {

// Packets an input-hook chain after Rampart's (priority 100) counted, in a
// watch table of the test's node namespace.
int counted(const Netns& node, const std::string& rule_comment) {
  const std::string out = "/tmp/rpt-watch-" + node.name();
  node.run("nft list chain inet watch input > " + out);
  std::ifstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.find("\"" + rule_comment + "\"") != std::string::npos) {
      const auto at = line.find("packets ");
      std::remove(out.c_str());
      return at == std::string::npos ? -1 : std::stoi(line.substr(at + 8));
    }
  std::remove(out.c_str());
  return -1;
}

}  // namespace

// vcn-native: a pod's NUD probes to its gateway fe80::1 come from its
// link-local address, which anti-spoofing took for a forged source (session
// 9, review H3 §4: the gateway neighbour went FAILED). ND, RS and MLD from a
// link-local source reach the node now; TCP and other ICMPv6 from it do not,
// to the node or to another pod.
TEST_CASE("vcn-native: a pod's ND from its link-local address reaches the node, nothing else from it passes", "[compiler][datapath][linklocal]") {
  engine::Model m;
  add_default_tier(m);
  add_pod(m, "ns", "web", {{"app", "web"}}, {"10.244.0.10", "fd00::10"});
  add_pod(m, "ns", "db", {{"app", "db"}}, {"10.244.0.11", "fd00::11"});
  auto to = peer();
  to.ports = {port(5432)};
  add_policy(m, "ns", "db", "app == 'db'", {rule(Action::kAllow, 6, peer("app == 'web'"), to)}, {}, true, false);
  const auto eps = node_endpoints(m, "node-1");
  REQUIRE(eps.size() == 2);
  const std::size_t web = m.endpoints[eps[0].index].name == "web" ? 0 : 1, db = 1 - web;
  Cluster c(m, eps, Mode::kVcnNative, true, "h2-");
  const std::string pod = c.pods[web]->name(), node = c.node.name(), ll = "fe80::2";
  REQUIRE(c.pods[web]->run("ip -6 addr add " + ll + "/64 dev eth0 nodad") == 0);
  REQUIRE(c.node.run("nft add table inet watch && nft add chain inet watch input '{ type filter hook input priority 100; }' && "
                     "nft add rule inet watch input icmpv6 type nd-router-solicit counter comment rs && "
                     "nft add rule inet watch input icmpv6 type echo-request counter comment echo") == 0);
  // Without our table: the node answers, and a link-local TCP connection to
  // it completes — the drops below are the ruleset's. To another pod the
  // kernel forwards no link-local source at all (beyond scope).
  CHECK(neighbour_advertised(pod, "eth0", ll, "fe80::1"));
  CHECK(tcp_connects_from(pod, "eth0", ll, node, "fe80::1", 2222));
  CHECK_FALSE(tcp_connects_from(pod, "eth0", ll, c.pods[db]->name(), "fd00::11", 5432));
  auto rs = lower(m, eps, NodeConfig{.mode = Mode::kVcnNative});  // endpoint-to-host accept
  REQUIRE(rs);
  Kernel k(node);
  REQUIRE(k.apply(rebuild(*rs)));
  const auto drift = k.drift(*rs);  // the link-local source range reads back as written
  REQUIRE(drift);
  CHECK(*drift == "");
  // ND from the pod's link-local address, and from its own global one
  CHECK(neighbour_advertised(pod, "eth0", ll, "fe80::1"));
  CHECK(neighbour_advertised(pod, "eth0", "fd00::10", "fe80::1"));
  // Router solicitations reach the node (the pod's kernel may add its own,
  // from a link-local address too); an echo request from fe80:: does not.
  const int rs_before = counted(c.node, "rs");
  for (int i = 0; i < 3; ++i) CHECK(icmpv6_send(pod, "eth0", ll, "ff02::2", 133, 255));
  CHECK(icmpv6_send(pod, "eth0", ll, "fe80::1", 128, 255));
  CHECK(icmpv6_send(pod, "eth0", ll, "fe80::1", 128, 64));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(counted(c.node, "rs") >= rs_before + 3);
  CHECK(counted(c.node, "echo") == 0);
  // TCP from the link-local address: not to the node, not to db
  CHECK_FALSE(tcp_connects_from(pod, "eth0", ll, node, "fe80::1", 2222));
  CHECK_FALSE(tcp_connects_from(pod, "eth0", ll, c.pods[db]->name(), "fd00::11", 5432));
  // what the policy allows still passes, from web's own addresses
  CHECK(tcp_connects(pod, c.pods[db]->name(), "fd00::11", 5432));
  CHECK(tcp_connects_from(pod, "eth0", "fd00::10", node, "fe80::1", 2222));
}

// IP-in-IP from a pod is dropped before policy (calico-semantics §4.3):
// real protocol-4 packets, IPv4 and IPv6, between two pods no policy selects.
TEST_CASE("IPIP from a pod does not pass, other protocols without ports do", "[compiler][datapath][ipip]") {
  engine::Model m;
  add_default_tier(m);
  add_pod(m, "ns", "a", {{"app", "a"}}, {"10.244.0.10", "fd00::10"});
  add_pod(m, "ns", "b", {{"app", "b"}}, {"10.244.0.11", "fd00::11"});
  const auto eps = node_endpoints(m, "node-1");
  REQUIRE(eps.size() == 2);
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    Cluster c(m, eps, mode, true, "h2-");
    const std::string a = c.pods[0]->name(), b = c.pods[1]->name();
    const auto& a_pod = m.endpoints[eps[0].index];
    const auto& b_pod = m.endpoints[eps[1].index];
    for (int family : {4, 6}) {
      INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native") << " v" << family);
      CHECK(raw_delivers(b, a, address_of(a_pod, family), 4));  // without our table it crosses
    }
    auto rs = lower(m, eps, NodeConfig{.mode = mode});
    REQUIRE(rs);
    Kernel k(c.node.name());
    REQUIRE(k.apply(rebuild(*rs)));
    for (int family : {4, 6}) {
      INFO((mode == Mode::kOverlay ? "overlay" : "vcn-native") << " v" << family);
      CHECK_FALSE(raw_delivers(a, b, address_of(b_pod, family), 4));
      CHECK(raw_delivers(a, b, address_of(b_pod, family), 253));
    }
  }
}
