// Read-back through netlink (Kernel::read_back, issue #6) against what was
// applied and against the independent `nft` path: `nft -t list` text and
// `nft -j` elements (Kernel::drift_nft). Root, label e2e: network namespaces
// the tests create and remove.
#include <catch2/catch.hpp>

#include <algorithm>

#include "netns.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"
#include "rampart/engine/loader.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;

namespace {

// Sets and chains by name, elements normalised: how two rulesets compare.
Ruleset comparable(Ruleset rs) {
  rs = canonical(std::move(rs));
  for (auto& t : rs.tables)
    for (auto& s : t.sets) normalize(s);
  return rs;
}

std::vector<std::pair<Family, std::string>> names_of(const Ruleset& rs) {
  std::vector<std::pair<Family, std::string>> out;
  for (const auto& t : rs.tables) out.emplace_back(t.family, t.name);
  return out;
}

// policies/demo with every endpoint given addresses, the first half on node-1.
const engine::Model& demo() {
  static const engine::Model model = [] {
    auto loaded = engine::load({std::string(RAMPART_SOURCE_DIR) + "/policies/demo"});
    REQUIRE_FALSE(loaded.has_errors());
    engine::Model m = std::move(loaded.model);
    for (std::size_t i = 0; i < m.endpoints.size(); ++i) {
      auto& e = m.endpoints[i];
      e.ips = {*IpAddress::parse("10.244." + std::to_string(i / 200) + "." + std::to_string(2 + i % 200)),
               *IpAddress::parse("fd00::" + std::to_string(i + 2))};
      e.node_name = i * 2 < m.endpoints.size() ? "node-1" : "node-2";
    }
    return m;
  }();
  return model;
}

Ruleset demo_ruleset(Mode mode) {
  auto rs = lower(demo(), node_endpoints(demo(), "node-1"), NodeConfig{.mode = mode});
  REQUIRE(rs);
  return *rs;
}

std::size_t rule_count(const Ruleset& rs) {
  std::size_t n = 0;
  for (const auto& t : rs.tables)
    for (const auto& c : t.chains) n += c.rules.size();
  return n;
}

// Every construct the encoder writes, in a small table of its own.
Ruleset shapes() {
  const auto ip = [](const char* text) { return Value{*IpAddress::parse(text)}; };
  Table t{.family = Family::kInet, .name = "rampart"};
  t.sets.push_back(Set{.name = "nets4", .key = {KeyType::kIpv4}, .interval = true,
                       .elements = {cidr_element(*Cidr::parse("10.0.0.0/8")), cidr_element(*Cidr::parse("192.168.1.7/32")),
                                    cidr_element(*Cidr::parse("224.0.0.0/3"))}});  // runs to the top: open end
  t.sets.push_back(Set{.name = "nets6", .key = {KeyType::kIpv6}, .interval = true,
                       .elements = {cidr_element(*Cidr::parse("fd00::/64"))}});
  t.sets.push_back(Set{.name = "ports", .key = {KeyType::kInetService}, .interval = true,
                       .elements = {Element{.key = {Value{std::uint64_t{80}}}, .key_end = Value{std::uint64_t{80}}},
                                    Element{.key = {Value{std::uint64_t{8000}}}, .key_end = Value{std::uint64_t{8999}}}}});
  t.sets.push_back(Set{.name = "addr-port", .key = {KeyType::kIpv4, KeyType::kInetService},
                       .elements = {Element{.key = {ip("10.244.0.5"), Value{std::uint64_t{5432}}}}}});
  t.sets.push_back(Set{.name = "by-if", .key = {KeyType::kIfname}, .verdict_map = true,
                       .elements = {Element{.key = {Value{std::string("veth1")}}, .verdict = {Verdict::Kind::kJump, "rb-pol"}},
                                    Element{.key = {Value{std::string("veth2")}}, .verdict = {Verdict::Kind::kDrop}}}});
  Chain base{.name = "rb-forward", .base = BaseChain{.hook = Hook::kForward, .priority = 5, .policy_drop = true}};
  const auto eq = [](Key k, Value v) { return Match{.keys = {k}, .values = {std::move(v)}}; };
  const auto u = [](std::uint64_t n) { return Value{n}; };
  base.rules = {
      Rule{.matches = {Match{.keys = {Key::kCtState}, .op = Match::Op::kBitsAny,
                             .values = {u(ct_state::kEstablished | ct_state::kRelated)}}},
           .verdict = {Verdict::Kind::kAccept}, .comment = "established"},
      Rule{.matches = {Match{.keys = {Key::kCtState}, .op = Match::Op::kBitsAny, .values = {u(ct_state::kInvalid)}}},
           .verdict = {Verdict::Kind::kDrop}},
      Rule{.matches = {eq(Key::kIifname, Value{std::string("veth*")})}, .vmap_keys = {Key::kIifname}, .vmap = "by-if"},
      // A transport protocol match is folded into the port match (`tcp dport`)
      // and so comes back first, where lowering writes it.
      Rule{.matches = {eq(Key::kL4proto, u(6)), eq(Key::kOifname, Value{std::string("cni0")}),
                       Match{.keys = {Key::kIpSaddr}, .op = Match::Op::kInSet, .set = "nets4"},
                       Match{.keys = {Key::kThDport}, .op = Match::Op::kInSet, .set = "ports"}},
           .verdict = {Verdict::Kind::kAccept}},
      Rule{.matches = {Match{.keys = {Key::kIp6Daddr}, .op = Match::Op::kNotInSet, .set = "nets6"}},
           .statements = {Statement{.kind = Statement::Kind::kLog, .text = "rampart drop "}}, .verdict = {Verdict::Kind::kDrop}},
      Rule{.matches = {eq(Key::kIcmpType, u(8)), eq(Key::kIcmpCode, u(0))}, .verdict = {Verdict::Kind::kAccept}},
      Rule{.matches = {eq(Key::kIcmpv6Type, u(128))}, .verdict = {Verdict::Kind::kAccept}},
      // Neighbour discovery as lowering accepts it: only with hop limit 255.
      Rule{.matches = {eq(Key::kIcmpv6Type, u(135)), eq(Key::kIifname, Value{std::string("cni0")}),
                       eq(Key::kIp6Hoplimit, u(255))},
           .verdict = {Verdict::Kind::kAccept}},
      Rule{.matches = {eq(Key::kL4proto, u(17)), Match{.keys = {Key::kThSport}, .op = Match::Op::kRange, .values = {u(1000), u(2000)}},
                       Match{.keys = {Key::kThDport}, .op = Match::Op::kNotRange, .values = {u(53), u(54)}}},
           .verdict = {Verdict::Kind::kGoto, "rb-pol"}},
      Rule{.matches = {Match{.keys = {Key::kIpSaddr, Key::kThDport}, .op = Match::Op::kInSet, .set = "addr-port"},
                       Match{.keys = {Key::kIpDaddr}, .op = Match::Op::kNe, .values = {ip("10.244.0.1")}}},
           .verdict = {Verdict::Kind::kReturn}},
      Rule{.matches = {Match{.keys = {Key::kMark}, .op = Match::Op::kBitsSet, .values = {u(0x10000)}}},
           .statements = {Statement{.kind = Statement::Kind::kMarkAnd, .value = 0xfffcffff}}, .verdict = {Verdict::Kind::kAccept}},
  };
  Chain pol{.name = "rb-pol"};
  pol.rules = {Rule{.statements = {Statement{.kind = Statement::Kind::kMarkOr, .value = 0x20000}}, .verdict = {Verdict::Kind::kReturn}},
               Rule{.matches = {Match{.keys = {Key::kMark}, .op = Match::Op::kBitsClear, .values = {u(0x30000)}}},
                    .verdict = {Verdict::Kind::kContinue}}};
  t.chains = {base, pol};
  return Ruleset{.tables = {t}};
}

}  // namespace

TEST_CASE("netlink read-back of every construct the encoder writes is the IR applied", "[compiler][kernel][readback]") {
  Netns ns("rbs");
  Kernel k(ns.name());
  const Ruleset rs = shapes();
  auto applied = k.apply(rebuild(rs));
  INFO(render(rs));
  INFO((applied ? std::string() : applied.error().message));
  REQUIRE(applied);
  auto back = k.read_back(names_of(rs));
  INFO((back ? std::string() : back.error().message));
  REQUIRE(back);
  CHECK(render(comparable(*back)) == render(comparable(rs)));
  CHECK(comparable(*back) == comparable(rs));
  // The nft path reads the same thing: listing text and `nft -j` elements.
  CHECK(*k.drift_nft(*back) == "");
}

TEST_CASE("netlink read-back of the demo ruleset equals the applied IR and the nft -j path, foreign tables ignored",
          "[compiler][kernel][readback]") {
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    Netns ns("rbd");
    Kernel k(ns.name());
    const Ruleset rs = demo_ruleset(mode);
    REQUIRE(rule_count(rs) > 20);
    REQUIRE(k.apply(rebuild(rs)));
    for (bool foreign : {false, true}) {
      INFO("mode " << static_cast<int>(mode) << (foreign ? ", with foreign tables" : ""));
      std::string foreign_before;
      if (foreign) {
        REQUIRE(ns.run("nft 'add table inet other; add chain inet other c { type filter hook forward priority 0; policy accept; }; "
                       "add rule inet other c tcp dport 22 counter drop; add table ip foreign; "
                       "add set ip foreign s { type ipv4_addr; flags timeout; }; add element ip foreign s { 10.1.1.1 timeout 1h }; "
                       "add table bridge rampart-not; add chain bridge rampart-not c'") == 0);
        foreign_before = *k.list(Family::kInet, "other") + *k.list(Family::kIp, "foreign", true);  // terse: timeouts tick
      }
      auto back = k.read_back(names_of(rs));
      INFO((back ? std::string() : back.error().message));
      REQUIRE(back);
      REQUIRE(back->tables.size() == rs.tables.size());
      CHECK(comparable(*back) == comparable(rs));
      CHECK(rule_count(*back) == rule_count(rs));
      CHECK(*k.drift_nft(*back) == "");  // the `nft -t list` / `nft -j` oracle agrees with the read-back
      CHECK(*k.drift(rs) == "");
      if (!foreign) continue;
      auto listed = k.tables();
      REQUIRE(listed);
      CHECK(std::count(listed->begin(), listed->end(), std::pair{Family::kInet, std::string("other")}) == 1);
      // A foreign table read on purpose: its counter is not something we write.
      auto theirs = k.read_back({{Family::kInet, "other"}});
      REQUIRE_FALSE(theirs);
      CHECK(theirs.error().message.find("not understood") != std::string::npos);
      CHECK(*k.list(Family::kInet, "other") + *k.list(Family::kIp, "foreign", true) == foreign_before);
    }
  }
}

TEST_CASE("netlink drift detection sees a deleted element, a flushed chain and a foreign rule in our table",
          "[compiler][kernel][readback]") {
  Netns ns("rbx");
  Kernel k(ns.name());
  const Ruleset rs = shapes();
  REQUIRE(k.apply(rebuild(rs)));
  REQUIRE(*k.drift(rs) == "");
  REQUIRE(ns.run("nft delete element inet rampart nets4 '{ 192.168.1.7 }'") == 0);
  auto d = k.drift(rs);
  REQUIRE(d);
  CHECK(d->find("192.168.1.7") != std::string::npos);
  REQUIRE(k.apply(rebuild(rs, rs)));
  REQUIRE(*k.drift(rs) == "");
  REQUIRE(ns.run("nft flush chain inet rampart rb-pol") == 0);
  d = k.drift(rs);
  REQUIRE(d);
  CHECK(d->find("rb-pol") != std::string::npos);
  REQUIRE(k.apply(rebuild(rs, rs)));
  REQUIRE(ns.run("nft add rule inet rampart rb-pol counter") == 0);
  d = k.drift(rs);
  REQUIRE(d);
  CHECK(d->find("not understood") != std::string::npos);
  CHECK(d->find("rb-pol") != std::string::npos);
  // Objects the IR has no words for: a named counter.
  REQUIRE(k.apply(rebuild(rs, rs)));
  REQUIRE(*k.drift(rs) == "");
  REQUIRE(ns.run("nft add counter inet rampart c1") == 0);
  d = k.drift(rs);
  REQUIRE(d);
  CHECK(d->find("not understood: inet rampart object c1") != std::string::npos);
  // (Flowtables are refused the same way; this test kernel has no flowtable support to add one.)
}
