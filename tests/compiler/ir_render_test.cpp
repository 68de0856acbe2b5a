#include <catch2/catch.hpp>

#include "model_builder.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/render.h"

using namespace rampart;
using namespace rampart::compiler;
using rampart::testing::cidr;
using rampart::testing::ip;

namespace {
Table sample() {
  Table t{.family = Family::kInet, .name = "t"};
  Set s{.name = "s4", .key = {KeyType::kIpv4}, .interval = true};
  s.elements.push_back(cidr_element(cidr("10.0.0.0/24")));
  s.elements.push_back(Element{.key = {ip("10.1.0.1")}});
  s.elements.push_back(Element{.key = {ip("10.0.1.0")}, .key_end = Value{ip("10.0.1.255")}});  // merges with /24
  normalize(s);
  t.sets.push_back(s);
  Set np{.name = "np4", .key = {KeyType::kIpv4, KeyType::kInetProto, KeyType::kInetService}};
  np.elements.push_back(Element{.key = {ip("10.0.0.2"), Value{std::uint64_t{6}}, Value{std::uint64_t{80}}}});
  t.sets.push_back(np);
  Set m{.name = "m", .key = {KeyType::kIfname}, .verdict_map = true};
  m.elements.push_back(Element{.key = {std::string("veth1")}, .verdict = Verdict{Verdict::Kind::kGoto, "c"}});
  t.sets.push_back(m);
  Chain base{.name = "hook-forward", .base = BaseChain{.hook = Hook::kForward, .priority = 5}};
  base.rules.push_back(Rule{.matches = {Match{.keys = {Key::kCtState}, .op = Match::Op::kBitsAny,
                                              .values = {Value{std::uint64_t{ct_state::kEstablished | ct_state::kRelated}}}}},
                            .verdict = Verdict{Verdict::Kind::kAccept}});
  base.rules.push_back(Rule{.vmap_keys = {Key::kIifname}, .vmap = "m"});
  t.chains.push_back(base);
  Chain c{.name = "c"};
  c.rules.push_back(Rule{.matches = {Match{.keys = {Key::kL4proto}, .op = Match::Op::kEq, .values = {Value{std::uint64_t{6}}}},
                                     Match{.keys = {Key::kIpSaddr}, .op = Match::Op::kInSet, .set = "s4"},
                                     Match{.keys = {Key::kThDport}, .op = Match::Op::kRange,
                                           .values = {Value{std::uint64_t{80}}, Value{std::uint64_t{90}}}}},
                         .statements = {Statement{.kind = Statement::Kind::kMarkOr, .value = 0x10000}},
                         .verdict = Verdict{Verdict::Kind::kReturn}});
  t.chains.push_back(c);
  return t;
}
}  // namespace

TEST_CASE("interval sets merge overlapping and adjacent ranges", "[compiler][ir]") {
  const Table t = sample();
  REQUIRE(t.sets[0].elements.size() == 2);
  CHECK(render_element(t.sets[0], t.sets[0].elements[0]) == "10.0.0.0/23");
  CHECK(render_element(t.sets[0], t.sets[0].elements[1]) == "10.1.0.1");
}

TEST_CASE("rendering follows nft's listing", "[compiler][render]") {
  const std::string text = render(sample());
  CHECK(text.find("\tset s4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.0.0.0/23, 10.1.0.1 }\n\t}\n") !=
        std::string::npos);
  CHECK(text.find("type ipv4_addr . inet_proto . inet_service") != std::string::npos);
  CHECK(text.find("10.0.0.2 . tcp . 80") != std::string::npos);
  CHECK(text.find("\tmap m {\n\t\ttype ifname : verdict\n\t\telements = { \"veth1\" : goto c }") != std::string::npos);
  CHECK(text.find("type filter hook forward priority filter + 5; policy accept;") != std::string::npos);
  CHECK(text.find("ct state established,related accept") != std::string::npos);
  CHECK(text.find("iifname vmap @m") != std::string::npos);
  // meta l4proto tcp is folded into the transport match, as nft prints it
  CHECK(text.find("ip saddr @s4 tcp dport 80-90 meta mark set meta mark | 0x00010000 return") != std::string::npos);
  CHECK(render(sample()) == text);  // deterministic
  CHECK(render(sample(), RenderOptions{.elements = false}).find("elements") == std::string::npos);
}

TEST_CASE("a transaction renders as an nft -f script", "[compiler][render]") {
  Transaction tx;
  tx.create(sample());
  const std::string script = render(tx);
  CHECK(script.starts_with("add table inet t\nadd chain inet t "));  // chains first (Transaction::create)
  CHECK(script.find("add set inet t s4 { type ipv4_addr; flags interval; }\n") != std::string::npos);
  CHECK(script.find("add map inet t m { type ifname : verdict; }") != std::string::npos);
  CHECK(script.find("add chain inet t hook-forward { type filter hook forward priority filter + 5; policy accept; }") !=
        std::string::npos);
  CHECK(script.find("add element inet t m { \"veth1\" : goto c }") != std::string::npos);
  // sets and chains exist before any element or rule refers to them
  CHECK(script.find("add chain inet t c\n") < script.find("add element inet t m"));
  CHECK(script.find("add element") < script.find("add rule"));
}

TEST_CASE("the first validation error sticks and is reported at commit", "[compiler][transaction]") {
  Transaction tx;
  tx.add_table(Family::kInet, "t");
  tx.add_chain(Family::kInet, "t", Chain{.name = "fwd"});  // nft keyword
  tx.add_chain(Family::kInet, "t", Chain{.name = "bad name"});
  REQUIRE_FALSE(tx.error());
  CHECK(tx.error().error().message.find("op 2") != std::string::npos);
  CHECK(tx.error().error().message.find("fwd") != std::string::npos);
  FakeKernel k;
  CHECK_FALSE(k.apply(tx));
  CHECK(k.ruleset().tables.empty());
}

TEST_CASE("element and set checks name the set and what is wrong", "[compiler][transaction]") {
  const Set s{.name = "s4", .key = {KeyType::kIpv4}};
  const Element two_fields{.key = {IpAddress::v4(0x0a000001), std::uint64_t{80}}};
  const Element range{.key = {IpAddress::v4(0x0a000001)}, .key_end = IpAddress::v4(0x0a000002)};
  const auto first_error = [&](const std::vector<Element>& elements) {
    Transaction tx;
    tx.add_table(Family::kInet, "t");
    tx.add_set(Family::kInet, "t", s);
    tx.add_elements(Family::kInet, "t", s, elements);
    return tx.error() ? std::string() : tx.error().error().message;
  };
  CHECK(first_error({two_fields}) == "transaction op 3: element of set 's4' has 2 fields, the set 1");
  CHECK(first_error({range}) == "transaction op 3: range element in non-interval set 's4'");
  Transaction keyless;
  keyless.add_set(Family::kInet, "t", Set{.name = "k"});
  REQUIRE_FALSE(keyless.error());
  CHECK(keyless.error().error().message == "transaction op 1: set 'k' has no key type");
}

TEST_CASE("the fake kernel is all or nothing", "[compiler][transaction]") {
  FakeKernel k;
  Transaction ok;
  ok.create(sample());
  REQUIRE(k.apply(ok));
  const Ruleset before = k.ruleset();
  Transaction bad;
  bad.flush_chain(Family::kInet, "t", "c");
  bad.add_rule(Family::kInet, "t", "c", Rule{.matches = {Match{.keys = {Key::kIpSaddr}, .op = Match::Op::kInSet, .set = "missing"}}});
  auto r = k.apply(bad);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("op 2") != std::string::npos);
  CHECK(k.ruleset() == before);
  CHECK(k.ruleset().tables[0] == sample());
}
