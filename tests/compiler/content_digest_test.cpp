// Allow runs are shared between endpoints by a digest of their member chains
// (compiler/src/digest.h): two chains that differ in any field the kernel
// sees must get different digests, or an endpoint could jump into a run made
// of other rules — a wrong "allowed".
#include <catch2/catch.hpp>

#include <set>

#include "lowering_parts.h"

using namespace rampart::compiler;

namespace {

// Built by emplace: g++ 12 warns (maybe-uninitialized) on brace lists of
// this variant.
std::vector<Value> number(std::uint64_t n) {
  std::vector<Value> v;
  v.emplace_back(std::in_place_type<std::uint64_t>, n);
  return v;
}

Match port(std::uint64_t n) {
  Match m;
  m.keys = {Key::kThDport};
  m.values = number(n);
  return m;
}

}  // namespace

TEST_CASE("content digests tell apart chains that differ in any one field", "[runs]") {
  const Chain base{.name = "pi.np.shop.a",
                   .rules = {Rule{.matches = {Match{.keys = {Key::kL4proto}, .op = Match::Op::kEq, .values = number(6)}},
                                  .statements = {Statement{.kind = Statement::Kind::kMarkOr, .value = 0x10000}},
                                  .verdict = Verdict{.kind = Verdict::Kind::kReturn}}}};
  std::vector<std::function<void(Chain&)>> changes = {
      [](Chain& c) { c.name = "pi.np.shop.b"; },
      [](Chain& c) { c.rules[0].matches[0].keys = {Key::kThDport}; },
      [](Chain& c) { c.rules[0].matches[0].op = Match::Op::kNe; },
      [](Chain& c) { c.rules[0].matches[0].values = number(17); },
      [](Chain& c) { c.rules[0].matches[0].values[0].emplace<std::string>("6"); },
      [](Chain& c) { c.rules[0].matches[0].values.emplace_back(std::in_place_type<std::uint64_t>, 6u); },
      [](Chain& c) { c.rules[0].matches[0].set = "s4-x"; },
      [](Chain& c) { c.rules[0].matches.push_back(port(80)); },
      [](Chain& c) { c.rules[0].statements[0].kind = Statement::Kind::kMarkAnd; },
      [](Chain& c) { c.rules[0].statements[0].value = 0x20000; },
      [](Chain& c) { c.rules[0].statements[0].text = "x"; },
      [](Chain& c) { c.rules[0].vmap_keys = {Key::kThDport}; },
      [](Chain& c) { c.rules[0].vmap = "m"; },
      [](Chain& c) { c.rules[0].verdict.kind = Verdict::Kind::kAccept; },
      [](Chain& c) { c.rules[0].verdict = Verdict{.kind = Verdict::Kind::kJump, .chain = "x"}; },
      [](Chain& c) { c.rules[0].comment = "x"; },
      [](Chain& c) { c.rules.push_back(Rule{}); },
      // The same matches split over two rules is another chain.
      [](Chain& c) {
        c.rules[0].matches.push_back(port(80));
        Rule second = c.rules[0];
        second.matches.erase(second.matches.begin());
        c.rules[0].matches.pop_back();
        c.rules.push_back(second);
      },
  };
  std::set<std::string> seen = {detail::content_hash(base)};
  CHECK(detail::content_hash(Chain(base)) == detail::content_hash(base));
  CHECK(detail::content_hash(base).size() == 32);
  for (std::size_t i = 0; i < changes.size(); ++i) {
    Chain changed = base;
    changes[i](changed);
    INFO("change " << i);
    REQUIRE(changed != base);
    CHECK(seen.insert(detail::content_hash(changed)).second);
  }
}
