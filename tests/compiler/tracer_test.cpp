#include <catch2/catch.hpp>

#include "model_builder.h"
#include "rampart/compiler/tracer.h"

using namespace rampart;
using namespace rampart::compiler;
using rampart::testing::ip;

namespace {
Rule r(std::vector<Match> m, Verdict v, std::vector<Statement> s = {}) {
  return Rule{.matches = std::move(m), .statements = std::move(s), .verdict = std::move(v)};
}
Match port_is(std::uint16_t p) { return Match{.keys = {Key::kThDport}, .op = Match::Op::kEq, .values = {Value{std::uint64_t{p}}}}; }
Packet tcp(std::uint16_t dport, std::string iif = "veth1") {
  Packet p;
  p.saddr = ip("10.0.0.1");
  p.daddr = ip("10.0.0.2");
  p.iif = std::move(iif);
  p.oif = "veth2";
  p.dport = dport;
  return p;
}
Ruleset rs() {
  Table t{.name = "t"};
  Set m{.name = "m", .key = {KeyType::kIfname}, .verdict_map = true};
  m.elements.push_back(Element{.key = {std::string("veth1")}, .verdict = Verdict{Verdict::Kind::kGoto, "ep"}});
  t.sets.push_back(m);
  Chain base{.name = "hook", .base = BaseChain{.hook = Hook::kForward, .priority = 0}};
  base.rules.push_back(r({Match{.keys = {Key::kCtState}, .op = Match::Op::kBitsAny, .values = {Value{std::uint64_t{ct_state::kEstablished}}}}},
                         Verdict{Verdict::Kind::kAccept}));
  base.rules.push_back(r({}, Verdict{Verdict::Kind::kJump, "disp"}));
  base.rules.push_back(r({Match{.keys = {Key::kMark}, .op = Match::Op::kBitsSet, .values = {Value{std::uint64_t{1}}}}},
                         Verdict{Verdict::Kind::kAccept}));
  base.rules.push_back(r({}, Verdict{Verdict::Kind::kDrop}));
  t.chains.push_back(base);
  Chain disp{.name = "disp"};
  disp.rules.push_back(Rule{.vmap_keys = {Key::kIifname}, .vmap = "m"});
  disp.rules.push_back(r({Match{.keys = {Key::kIifname}, .op = Match::Op::kEq, .values = {Value{std::string("veth*")}}}},
                         Verdict{Verdict::Kind::kDrop}));
  t.chains.push_back(disp);
  Chain ep{.name = "ep"};
  ep.rules.push_back(r({port_is(22)}, Verdict{Verdict::Kind::kDrop}));
  ep.rules.push_back(r({port_is(80)}, Verdict{Verdict::Kind::kReturn}, {Statement{.kind = Statement::Kind::kMarkOr, .value = 1}}));
  t.chains.push_back(ep);
  return Ruleset{.tables = {t}};
}
}  // namespace

TEST_CASE("tracer follows vmaps, goto and return back to the jumping chain", "[compiler][tracer]") {
  auto t = trace(rs(), tcp(80));
  REQUIRE(t);
  CHECK(t->accepted);
  CHECK(t->mark == 1);
  REQUIRE(t->path.size() == 4);  // hook#1 jump, disp#0 vmap, ep#1 return, hook#2 accept
  CHECK(t->path[1].chain == "disp");
  CHECK(t->path[2].chain == "ep");
  CHECK(t->path[3].chain == "hook");  // returned past disp: goto does not push
  CHECK(t->path[3].rule == 2);
}

TEST_CASE("tracer: drop rules, unmatched endpoints and the ct fast path", "[compiler][tracer]") {
  CHECK_FALSE(trace(rs(), tcp(22))->accepted);
  CHECK_FALSE(trace(rs(), tcp(443))->accepted);          // no mark: the final drop
  CHECK_FALSE(trace(rs(), tcp(80, "veth9"))->accepted);  // unknown pod interface
  auto other = tcp(80, "eth0");                           // not a pod: not dispatched
  CHECK_FALSE(trace(rs(), other)->accepted);
  auto est = tcp(22);
  est.ct_state = ct_state::kEstablished;
  CHECK(trace(rs(), est)->accepted);
}

TEST_CASE("tracer: ports are absent for ICMP, addresses for the other family", "[compiler][tracer]") {
  Ruleset x = rs();
  auto icmp = tcp(80);
  icmp.l4proto = 1;
  CHECK_FALSE(trace(x, icmp)->accepted);  // th dport 80 cannot match ICMP
  Table& t = x.tables[0];
  t.chains[2].rules.insert(t.chains[2].rules.begin(),
                           r({Match{.keys = {Key::kIpSaddr}, .op = Match::Op::kNe, .values = {Value{ip("10.9.9.9")}}}},
                             Verdict{Verdict::Kind::kDrop}));
  auto v6 = tcp(80);
  v6.saddr = ip("fd00::1");
  v6.daddr = ip("fd00::2");
  CHECK(trace(x, v6)->accepted);           // `ip saddr !=` does not match IPv6
  CHECK_FALSE(trace(x, tcp(80))->accepted);
}

TEST_CASE("tracer reports broken references", "[compiler][tracer]") {
  Ruleset x = rs();
  x.tables[0].chains[0].rules[1].verdict.chain = "nowhere";
  CHECK_FALSE(trace(x, tcp(80)));
}
