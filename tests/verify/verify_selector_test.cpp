// Selector-level encoding: differential against engine::SelectorMatcher on
// random selectors and label maps, plus exact string-operator cases.
#include <catch2/catch.hpp>

#include <random>

#include "rampart/engine/selector_matcher.h"
#include "rampart/verify/verifier.h"

using rampart::Labels;
using rampart::engine::SelectorMatcher;
using rampart::selector::Selector;
using namespace rampart::verify;

namespace {

const std::vector<std::string> kKeys = {"a", "b", "c"};
const std::vector<std::string> kValues = {"", "x", "y", "xy", "yx", "xx", "xyx"};

std::string quoted(const std::string& v) { return "\"" + v + "\""; }

std::string random_selector(std::mt19937& rng, int depth) {
  auto pick = [&](const auto& v) { return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)]; };
  const int choice = std::uniform_int_distribution<int>(0, depth > 0 ? 12 : 8)(rng);
  const std::string k = pick(kKeys);
  switch (choice) {
    case 0: return "has(" + k + ")";
    case 1: return k + " == " + quoted(pick(kValues));
    case 2: return k + " != " + quoted(pick(kValues));
    case 3: return k + " in {" + quoted(pick(kValues)) + ", " + quoted(pick(kValues)) + "}";
    case 4: return k + " not in {" + quoted(pick(kValues)) + "}";
    case 5: return k + " contains " + quoted(pick(kValues));
    case 6: return k + " starts with " + quoted(pick(kValues));
    case 7: return k + " ends with " + quoted(pick(kValues));
    case 8: return std::uniform_int_distribution<int>(0, 5)(rng) == 0 ? "all()" : "has(" + k + ")";
    case 9: return "!(" + random_selector(rng, depth - 1) + ")";
    case 10:
    case 11: return "(" + random_selector(rng, depth - 1) + " && " + random_selector(rng, depth - 1) + ")";
    default: return "(" + random_selector(rng, depth - 1) + " || " + random_selector(rng, depth - 1) + ")";
  }
}

// Every label map over kKeys with values from kValues (8^3 maps).
std::vector<Labels> all_small_maps() {
  std::vector<Labels> out;
  const std::size_t n = kValues.size() + 1;
  for (std::size_t i = 0; i < n * n * n; ++i) {
    Labels l;
    std::size_t x = i;
    for (const auto& k : kKeys) {
      const std::size_t v = x % n;
      x /= n;
      if (v > 0) l.emplace(k, kValues[v - 1]);
    }
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace

TEST_CASE("selector satisfiability agrees with SelectorMatcher on random selectors", "[verify][selector]") {
  std::mt19937 rng(20261127);
  const auto maps = all_small_maps();
  int sat = 0, unsat = 0;
  for (int i = 0; i < 500; ++i) {
    const std::string text = random_selector(rng, 3);
    INFO(text);
    auto parsed = Selector::parse(text);
    REQUIRE(parsed);
    const SelectorMatcher matcher(*parsed);
    const SelectorCheck check = selector_satisfiable(*parsed);
    REQUIRE(check.outcome != Outcome::kUnknown);
    bool small_match = false;
    for (const auto& l : maps)
      if (matcher.matches(l)) { small_match = true; break; }
    if (check.outcome == Outcome::kHolds) {
      ++sat;
      REQUIRE(check.example);
      INFO("example has " << check.example->size() << " labels");
      CHECK(matcher.matches(*check.example));  // the witness is real
    } else {
      ++unsat;
      CHECK_FALSE(small_match);  // "never matches" agrees with exhaustive evaluation
    }
  }
  CHECK(sat > 50);
  CHECK(unsat > 10);
}

TEST_CASE("selector difference gives a witness matching one and not the other", "[verify][selector]") {
  std::mt19937 rng(7);
  const auto maps = all_small_maps();
  for (int i = 0; i < 300; ++i) {
    const auto a = *Selector::parse(random_selector(rng, 2));
    const auto b = *Selector::parse(random_selector(rng, 2));
    INFO(a.canonical() << "  minus  " << b.canonical());
    const SelectorMatcher ma(a), mb(b);
    const SelectorCheck d = selector_difference(a, b);
    REQUIRE(d.outcome != Outcome::kUnknown);
    if (d.outcome == Outcome::kHolds) {
      REQUIRE(d.example);
      CHECK(ma.matches(*d.example));
      CHECK_FALSE(mb.matches(*d.example));
    } else {
      for (const auto& l : maps) CHECK_FALSE((ma.matches(l) && !mb.matches(l)));
    }
  }
}

TEST_CASE("string operators are exact", "[verify][selector]") {
  struct Case {
    const char* text;
    bool satisfiable;
  };
  const Case cases[] = {
      {"a starts with \"xy\" && a ends with \"yx\" && !a contains \"xyx\"", true},  // needs "xyyx"
      {"a starts with \"ab\" && a == \"b\"", false},
      {"a starts with \"ab\" && a ends with \"b\" && a in {\"ab\", \"c\"}", true},
      {"a contains \"\" && !has(a)", false},
      {"a contains \"q\" && a not in {\"q\"} && !a starts with \"q\" && !a ends with \"q\"", true},  // "xqx"
      {"a == \"x\" && a != \"x\"", false},
      {"a in {}", false},
      {"a not in {} && !has(a)", true},
      {"a starts with \"abc\" && !a starts with \"ab\"", false},
      {"a ends with \"bc\" && a ends with \"ac\"", false},
      {"has(a) && a != \"x\" && a != \"y\" && !a contains \"z\"", true},
      {"a == \"\" && !a starts with \"\"", false},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto s = Selector::parse(c.text);
    REQUIRE(s);
    const SelectorCheck check = selector_satisfiable(*s);
    REQUIRE(check.outcome != Outcome::kUnknown);
    CHECK((check.outcome == Outcome::kHolds) == c.satisfiable);
    if (check.example) CHECK(SelectorMatcher(*s).matches(*check.example));
  }
}

TEST_CASE("literal values with quotes, backslashes and non-ASCII bytes round-trip", "[verify][selector]") {
  for (const char* text : {"a contains '\\u{41}' && a ends with \"\\\\\"", "a starts with \"caf\xc3\xa9\" && a ends with 'x\"'",
                           "a contains \"\\x41\""}) {
    INFO(text);
    auto s = Selector::parse(text);
    REQUIRE(s);
    const SelectorCheck check = selector_satisfiable(*s);
    REQUIRE(check.outcome == Outcome::kHolds);
    REQUIRE(check.example);
    CHECK(SelectorMatcher(*s).matches(*check.example));
  }
}
