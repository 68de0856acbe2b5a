// Kernel tests (root, label e2e): transactions applied to nftables in
// network namespaces the test creates and removes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <regex>
#include <sstream>

#include "model_builder.h"
#include "netns.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;
using engine::Action;

namespace {

engine::Model cluster() {
  engine::Model m;
  add_default_tier(m);
  m.tiers.push_back(engine::Tier{.name = "security", .order = 10});
  for (int i = 0; i < 12; ++i)
    add_pod(m, "ns", "p" + std::to_string(i), {{"app", i % 3 == 0 ? "web" : i % 3 == 1 ? "db" : "cache"}},
            {"10.244.0." + std::to_string(10 + i), "fd00::" + std::to_string(10 + i)}, i < 8 ? "node-1" : "node-2");
  m.endpoints[1].ports.push_back(engine::NamedPort{.name = "pg", .protocol = 6, .port = 5432});
  auto dst = peer();
  dst.ports = {named_port("pg"), port(8080, 8090), port(9000)};
  add_policy(m, "ns", "db-in", "app == 'db'", {rule(Action::kAllow, 6, peer("app == 'web'"), dst)}, {}, true, false, 10);
  auto nets = peer("", {"10.0.0.0/8", "192.168.0.0/16", "fd00::/64"});
  nets.not_nets = {cidr("10.244.0.13/32")};
  add_policy(m, "", "sec", "has(app)", {rule(Action::kLog, 1), rule(Action::kDeny, 17, nets), rule(Action::kPass)},
             {rule(Action::kAllow)}, true, true, 1, "security");
  auto icmp = rule(Action::kAllow, 1);
  icmp.icmp = engine::IcmpMatch{.type = 8, .code = 0};
  add_policy(m, "ns", "cache", "app == 'cache'", {icmp, rule(Action::kAllow, 58)}, {}, true, false);
  // Allow-only policies in a row on app == 'web': one allow run (overlapping
  // TCP ranges, UDP, SCTP, a port set, the last port, a rule without ports).
  auto web = [](std::vector<engine::PortSpec> ports) {
    auto d = peer();
    d.ports = std::move(ports);
    return d;
  };
  add_policy(m, "ns", "web-a", "app == 'web'",
             {rule(Action::kAllow, 6, peer("app == 'db'"), web({port(80, 90)})), rule(Action::kAllow, 17, peer(), web({port(53)}))}, {},
             true, false, 20);
  add_policy(m, "ns", "web-b", "app == 'web'",
             {rule(Action::kAllow, 6, peer("app == 'cache'"), web({port(85), port(443), port(65535)})),
              rule(Action::kAllow, 132, peer("", {"10.0.0.0/8"}), web({port(100, 200)}))},
             {}, true, false, 21);
  add_policy(m, "ns", "web-c", "app == 'web'", {rule(Action::kAllow, 6, peer("", {"192.168.0.0/16"}))}, {}, true, false, 22);
  return m;
}

// `nft --debug=netlink list table`: the kernel's bytecode of every rule and
// the raw bytes of every set element. Rule handles and element order (hash
// sets list in a per-set random order) are normalised away.
std::string bytecode(const Netns& ns, Family family, const std::string& table) {
  const std::string cmd = "ip netns exec " + ns.name() + " nft --debug=netlink list table " + family_name(family) + " " + table;
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  out = out.substr(0, out.find("\ntable "));  // drop the text listing after the debug part
  static const std::regex kHandles(R"(^(\w+ \S+ \S+)( \d+)+$)");
  std::istringstream in(out);
  std::string line, result;
  std::vector<std::string> elements;
  const auto flush = [&] {
    std::sort(elements.begin(), elements.end());
    for (const auto& e : elements) result += e + "\n";
    elements.clear();
  };
  while (std::getline(in, line)) {
    if (line.starts_with("\telement ")) {
      elements.push_back(line);
      continue;
    }
    flush();
    result += std::regex_replace(line, kHandles, "$1") + "\n";
  }
  flush();
  return result;
}

Ruleset lowered(const engine::Model& m, Mode mode) {
  auto rs = lower(m, node_endpoints(m, "node-1"), NodeConfig{.mode = mode});
  REQUIRE(rs);
  return *rs;
}

}  // namespace

TEST_CASE("a transaction applied to the kernel reads back as the IR", "[compiler][kernel]") {
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    Netns ns("rb");
    Kernel k(ns.name());
    const Ruleset rs = lowered(cluster(), mode);
    auto applied = k.apply(rebuild(rs));
    REQUIRE(applied);
    auto d = k.drift(rs);
    REQUIRE(d);
    CHECK(*d == "");
    // and drift is seen: remove one element behind the agent's back (a
    // plain address set holding a pod's address), then flush a chain
    std::string set_name;
    for (const auto& t : rs.tables)
      for (const auto& s : t.sets)
        if (set_name.empty() && !s.interval && !s.verdict_map && s.key == std::vector{KeyType::kIpv4})
          for (const auto& e : s.elements)
            if (e.key.front() == Value{*IpAddress::parse("10.244.0.10")}) set_name = s.name;
    REQUIRE_FALSE(set_name.empty());
    REQUIRE(ns.run("nft delete element inet rampart " + set_name + " '{ 10.244.0.10 }'") == 0);
    auto d1 = k.drift(rs);
    REQUIRE(d1);
    CHECK(d1->find(set_name) != std::string::npos);
    REQUIRE(ns.run("nft flush chain inet rampart from-wl") == 0);
    auto d2 = k.drift(rs);
    REQUIRE(d2);
    CHECK(d2->find("from-wl") != std::string::npos);
    REQUIRE(k.apply(rebuild(rs)));  // repair
    CHECK(*k.drift(rs) == "");
  }
}

TEST_CASE("incremental updates leave exactly the ruleset a full rebuild leaves", "[compiler][kernel]") {
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    Netns inc("inc"), full("full");
    Kernel ki(inc.name()), kf(full.name());
    auto m = cluster();
    Ruleset cur = lowered(m, mode);
    REQUIRE(ki.apply(rebuild(cur)));
    // a pod added, a pod removed, a policy changed, a network set's worth of nets
    std::vector<std::function<void(engine::Model&)>> changes = {
        [](engine::Model& x) { add_pod(x, "ns", "new", {{"app", "web"}}, {"10.244.0.99", "fd00::99"}); },
        [](engine::Model& x) { x.endpoints.erase(x.endpoints.begin() + 2); },
        [](engine::Model& x) { x.policies[0].ingress[0].protocol = protocol(17); },
        [](engine::Model& x) { x.policies[1].ingress[1].source.nets.push_back(cidr("172.16.0.0/12")); },
        [](engine::Model& x) { x.policies.pop_back(); },
    };
    for (auto& change : changes) {
      change(m);
      const Ruleset next = lowered(m, mode);
      const Transaction tx = diff(cur, next);
      auto r = ki.apply(tx);
      INFO(render(tx));
      REQUIRE(r);
      cur = next;
    }
    REQUIRE(kf.apply(rebuild(cur)));
    for (const auto& t : cur.tables) {
      auto a = ki.list(t.family, t.name, true);
      auto b = kf.list(t.family, t.name, true);
      REQUIRE(a);
      REQUIRE(b);
      CHECK(canonical_listing(*a) == canonical_listing(*b));
    }
    CHECK(*ki.drift(cur) == "");
    CHECK(*kf.drift(cur) == "");
  }
}

TEST_CASE("another program's tables are never touched", "[compiler][kernel]") {
  Netns ns("other");
  Kernel k(ns.name());
  REQUIRE(ns.run("nft 'add table inet other; add chain inet other c { type filter hook forward priority 0; policy accept; }; "
                 "add rule inet other c tcp dport 22 drop; add table ip rampart; add set ip rampart s { type ipv4_addr; }'") == 0);
  const auto before = *k.list_ruleset();
  const Ruleset rs = lowered(cluster(), Mode::kOverlay);
  REQUIRE(k.apply(rebuild(rs)));
  auto m = cluster();
  m.endpoints.pop_back();
  REQUIRE(k.apply(diff(rs, lowered(m, Mode::kOverlay))));
  REQUIRE(k.apply(rebuild(Ruleset{}, rs)));  // delete our tables
  CHECK(*k.list_ruleset() == before);
}

TEST_CASE("a batch the kernel rejects leaves the previous ruleset intact", "[compiler][kernel]") {
  Netns ns("reject");
  Kernel k(ns.name());
  const Ruleset rs = lowered(cluster(), Mode::kVcnNative);
  REQUIRE(k.apply(rebuild(rs)));
  const auto before = *k.list_ruleset();
  auto m = cluster();
  m.endpoints.pop_back();
  Transaction tx = diff(rs, lowered(m, Mode::kVcnNative));
  // inject a failing op in the middle: a rule that looks up a missing set
  tx.add_rule(Family::kInet, "rampart", "from-wl",
              Rule{.matches = {Match{.keys = {Key::kIpSaddr}, .op = Match::Op::kInSet, .set = "no-such-set"}},
                   .verdict = Verdict{Verdict::Kind::kDrop}});
  tx.delete_table(Family::kInet, "rampart");
  const size_t bad_op = tx.ops().size() - 1;
  auto r = k.apply(tx);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kKernel);
  CHECK(r.error().message.find("op " + std::to_string(bad_op) + " (add rule inet rampart from-wl") != std::string::npos);
  CHECK(*k.list_ruleset() == before);
  CHECK(*k.drift(rs) == "");
}

TEST_CASE("the netlink batch leaves the same bytecode in the kernel as nft -f of the rendered text", "[compiler][kernel][netlink]") {
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    Netns nl("nl"), text("txt");
    const Ruleset rs = lowered(cluster(), mode);
    auto a = Kernel(nl.name(), KernelBackend::kNetlink).apply(rebuild(rs));
    auto b = Kernel(text.name(), KernelBackend::kNftText).apply(rebuild(rs));
    INFO((a ? std::string() : a.error().message) << (b ? std::string() : b.error().message));
    REQUIRE(a);
    REQUIRE(b);
    for (const auto& t : rs.tables) {
      const std::string want = bytecode(text, t.family, t.name);
      CHECK(want.find("[ lookup reg 1 set") != std::string::npos);  // not an empty listing
      CHECK(bytecode(nl, t.family, t.name) == want);
    }
  }
}

TEST_CASE("a 50,000-element set update is chunked into messages the kernel accepts", "[compiler][kernel][netlink]") {
  Netns ns("chunk");
  Kernel k(ns.name());
  Table t{.family = Family::kInet, .name = "rampart"};
  Set plain{.name = "big", .key = {KeyType::kIpv4}};
  Set ranges{.name = "big-n", .key = {KeyType::kIpv4}, .interval = true};
  for (std::uint32_t i = 0; i < 50000; ++i) {
    IpAddress a{.family = 4};
    a.bytes[0] = 10, a.bytes[1] = static_cast<std::uint8_t>(i >> 16), a.bytes[2] = static_cast<std::uint8_t>(i >> 8),
    a.bytes[3] = static_cast<std::uint8_t>(i);
    plain.elements.push_back(Element{.key = {a}});
    IpAddress lo{.family = 4};
    lo.bytes[0] = 11, lo.bytes[1] = static_cast<std::uint8_t>(i >> 8), lo.bytes[2] = static_cast<std::uint8_t>(i),
    lo.bytes[3] = 0;
    IpAddress hi = lo;
    hi.bytes[3] = 127;  // 11.x.y.0-11.x.y.127: separate, never adjacent ranges
    ranges.elements.push_back(Element{.key = {lo}, .key_end = Value{hi}});
  }
  normalize(plain);
  normalize(ranges);
  t.sets = {plain, ranges};
  t.chains.push_back(Chain{.name = "c",
                           .rules = {Rule{.matches = {Match{.keys = {Key::kIpSaddr}, .op = Match::Op::kInSet, .set = "big"},
                                                      Match{.keys = {Key::kIpDaddr}, .op = Match::Op::kInSet, .set = "big-n"}},
                                          .verdict = Verdict{Verdict::Kind::kAccept}}}});
  const Ruleset rs{.tables = {t}};
  REQUIRE(k.apply(rebuild(rs)));
  CHECK(*k.drift(rs) == "");
  // remove every other element in one update (chunked deletes), then check
  Ruleset half = rs;
  std::vector<Element> gone;
  auto& els = half.tables[0].sets[0].elements;
  for (size_t i = 0; i < els.size(); i += 2) gone.push_back(els[i]);
  std::erase_if(els, [&](const Element& e) { return std::binary_search(gone.begin(), gone.end(), e); });
  const Transaction tx = diff(rs, half);
  REQUIRE(k.apply(tx));
  CHECK(*k.drift(half) == "");
}

TEST_CASE("a batch bound to a generation is refused when the ruleset changed since", "[compiler][kernel][netlink]") {
  for (KernelBackend backend : {KernelBackend::kNetlink, KernelBackend::kNftText}) {
    Netns ns("gen");
    Kernel k(ns.name(), backend);
    const Ruleset rs = lowered(cluster(), Mode::kVcnNative);
    REQUIRE(k.apply(rebuild(rs)));
    auto g = k.generation();
    REQUIRE(g);
    const auto before = *k.list_ruleset();
    auto m = cluster();
    m.endpoints.erase(m.endpoints.begin());  // a pod of node-1 goes away
    const Transaction tx = diff(rs, lowered(m, Mode::kVcnNative));
    REQUIRE_FALSE(tx.empty());
    // another program commits in between (its own table)
    REQUIRE(ns.run("nft add table ip someone-else") == 0);
    const auto between = *k.list_ruleset();
    auto r = k.apply(tx, *g);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kKernel);
    CHECK(r.error().message.find("changed since it was read") != std::string::npos);
    CHECK(*k.list_ruleset() == between);
    CHECK(between != before);
    // read again, apply bound to the new generation: accepted, and it moved on
    auto g2 = k.generation();
    REQUIRE(g2);
    CHECK(*g2 != *g);
    REQUIRE(k.apply(tx, *g2));
    CHECK(*k.generation() != *g2);
    CHECK(*k.drift(lowered(m, Mode::kVcnNative)) == "");
  }
}

TEST_CASE("a refused netlink batch names the op, also inside a chunked element update", "[compiler][kernel][netlink]") {
  Netns ns("errmap");
  Kernel k(ns.name());
  const Ruleset rs = lowered(cluster(), Mode::kVcnNative);
  REQUIRE(k.apply(rebuild(rs)));
  const auto before = *k.list_ruleset();
  {  // a map element jumping to a chain that does not exist
    Transaction tx;
    const Set* map = rs.tables[0].find_set("from-wl-if");
    REQUIRE(map);
    tx.add_elements(Family::kInet, "rampart", *map,
                    {Element{.key = {std::string("veth-x")}, .verdict = Verdict{Verdict::Kind::kJump, "no-such-chain"}}});
    auto r = k.apply(tx);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("op 1 (add element inet rampart from-wl-if") != std::string::npos);
  }
  {  // 20,000 good elements (several messages), then one op that fails
    Transaction tx;
    Set s{.name = "extra", .key = {KeyType::kIpv6}};
    tx.add_set(Family::kInet, "rampart", s);
    std::vector<Element> els;
    for (int i = 0; i < 20000; ++i) els.push_back(Element{.key = {*IpAddress::parse("fd00::" + std::to_string(i / 1000 + 1) + ":" + std::to_string(i % 1000 + 1))}});
    tx.add_elements(Family::kInet, "rampart", s, els);
    tx.delete_chain(Family::kInet, "rampart", "no-such-chain");
    auto r = k.apply(tx);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("op 3 (delete chain inet rampart no-such-chain)") != std::string::npos);
  }
  CHECK(*k.list_ruleset() == before);
}
