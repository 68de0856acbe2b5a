// Lexical rules, error reporting and AST shape beyond Calico's vectors.
#include <catch2/catch.hpp>

#include "rampart/engine/selector_matcher.h"
#include "rampart/selector/selector.h"

using rampart::selector::Op;
using rampart::selector::Selector;

namespace {
std::string canonical(std::string_view text) {
  auto parsed = Selector::parse(text);
  if (!parsed) return "ERROR: " + parsed.error().message;
  return parsed->canonical();
}
bool parses(std::string_view text) { return Selector::parse(text).has_value(); }
}  // namespace

TEST_CASE("only space and tab are whitespace", "[unit][selector]") {
  CHECK(parses("\ta == \"b\" "));
  CHECK_FALSE(parses("a == \"b\"\n"));
  CHECK_FALSE(parses("a ==\r\"b\""));
  CHECK(parses("a == \"line\nbreak\""));  // inside a literal any byte is fine
}

TEST_CASE("keywords exist only after a label", "[unit][selector]") {
  CHECK(canonical("contains contains \"contains\"") == "contains contains \"contains\"");
  CHECK(canonical("in in {\"x\"}") == "in in {\"x\"}");
  CHECK(canonical("not in {\"a\"}") == "not in {\"a\"}");
  CHECK(canonical("a notin {\"a\"}") == "a not in {\"a\"}");
  CHECK(canonical("a startswith \"x\"") == "a starts with \"x\"");
  CHECK(canonical("a ends\t with \"x\"") == "a ends with \"x\"");
  CHECK(canonical("a contains\"v\"") == "a contains \"v\"");
  CHECK(canonical("a in{\"x\"}") == "a in {\"x\"}");
  CHECK_FALSE(parses("a containsx \"v\""));
  CHECK_FALSE(parses("a starts withx \"v\""));
  CHECK_FALSE(parses("a not inx {}"));
  CHECK_FALSE(parses("all ()"));
  CHECK(canonical("has( foo )") == "has(foo)");
  CHECK_FALSE(parses("has (foo)"));
}

TEST_CASE("sets are sorted, de-duplicated and may be empty", "[unit][selector]") {
  CHECK(canonical("a in {\"c\", \"a\", \"c\",}") == "a in {\"a\", \"c\"}");
  CHECK(canonical("a in {}") == "a in {}");
  CHECK_FALSE(parses("a in {,}"));
  CHECK_FALSE(parses("a in {\"x\" \"y\"}"));
}

TEST_CASE("negation: even counts cancel, no parentheses added", "[unit][selector]") {
  CHECK(canonical("!!a == \"b\"") == "a == \"b\"");
  CHECK(canonical("!(a == \"b\")") == "!a == \"b\"");
  auto parsed = Selector::parse("!!!has(x)");
  REQUIRE(parsed);
  CHECK(parsed->root().op == Op::kNot);
}

TEST_CASE("precedence: && binds tighter than ||", "[unit][selector]") {
  auto parsed = Selector::parse("a == \"b\" || c == \"d\" && e == \"f\"");
  REQUIRE(parsed);
  CHECK(parsed->root().op == Op::kOr);
  CHECK(parsed->canonical() == "(a == \"b\" || (c == \"d\" && e == \"f\"))");
}

TEST_CASE("label key length limit is 512 bytes", "[unit][selector]") {
  CHECK(parses(std::string(512, 'k') + " == \"v\""));
  auto too_long = Selector::parse(std::string(513, 'k') + " == \"v\"");
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().where.column == 1);
  CHECK(too_long.error().message.find("too long") != std::string::npos);
  CHECK_FALSE(parses("has(" + std::string(513, 'k') + ")"));
}

TEST_CASE("parse errors name what was expected, with a caret", "[unit][selector]") {
  auto err = Selector::parse("a == \"b\" && ");
  REQUIRE_FALSE(err);
  CHECK(err.error().where.column == 13);
  CHECK(err.error().message.find("expected") != std::string::npos);
  CHECK(err.error().message.find("end of selector") != std::string::npos);
  CHECK(err.error().message.find("\n  a == \"b\" && \n              ^") != std::string::npos);

  auto bad_op = Selector::parse("tier = \"db\"");
  REQUIRE_FALSE(bad_op);
  CHECK(bad_op.error().where.column == 6);
  CHECK(bad_op.error().message.find("operator") != std::string::npos);

  auto unterminated = Selector::parse("a == \"b");
  REQUIRE_FALSE(unterminated);
  CHECK(unterminated.error().message.find("unterminated string") != std::string::npos);
  CHECK(unterminated.error().where.column == 6);
}

TEST_CASE("bytes that are not UTF-8 are accepted inside literals", "[unit][selector]") {
  const std::string text = std::string("a == \"") + '\xff' + '\xfe' + "\"";
  auto parsed = Selector::parse(text);
  REQUIRE(parsed);
  CHECK(parsed->root().value == std::string("\xff\xfe"));
  CHECK_FALSE(parses(std::string("a == \"b\" ") + '\xff'));
}

TEST_CASE("prefix_keys rewrites every label key", "[unit][selector]") {
  auto parsed = Selector::parse("team == 'a' && !has(x) || k in {\"v\"}");
  REQUIRE(parsed);
  Selector prefixed(rampart::selector::prefix_keys(parsed->root_ptr(), "pcns."));
  CHECK(prefixed.canonical() == "((pcns.team == \"a\" && !has(pcns.x)) || pcns.k in {\"v\"})");
}

TEST_CASE("compiled matcher agrees with the tree walk", "[unit][selector]") {
  const std::vector<std::string> selectors = {
      "a == \"1\" && (b in {\"x\", \"y\"} || !has(c))", "a != \"1\" || c contains \"z\"",
      "b starts with \"x\" && c ends with \"z\"", "a not in {\"1\", \"2\"}", "all()", "global()"};
  const std::vector<rampart::Labels> label_sets = {
      {}, {{"a", "1"}}, {{"a", "1"}, {"b", "y"}}, {{"a", "2"}, {"c", "xzz"}}, {{"b", "xq"}, {"c", "qz"}}};
  for (const auto& text : selectors) {
    auto parsed = Selector::parse(text);
    REQUIRE(parsed);
    rampart::engine::SelectorMatcher matcher(*parsed);
    for (const auto& labels : label_sets) {
      const bool tree = parsed->evaluate([&](const std::string& k) -> const std::string* {
        auto it = labels.find(k);
        return it == labels.end() ? nullptr : &it->second;
      });
      CHECK(matcher.matches(labels) == tree);
    }
  }
}
