// The parser reads tokens from a hand-written scanner (grammar/src/
// selector_scanner.cpp); SelectorLexer.g4 is the specification. These tests
// hold the two to the same token stream — types and byte spans — and the
// parser fed by each to the same tree or error, on Calico's vectors, on
// hand-picked edges of the lexical rules, and on generated text.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "conformance_selectors.h"
#include "rampart/selector/tokens.h"

using rampart::selector::Selector;
using rampart::selector::detail::parse_with_grammar_lexer;
using rampart::selector::detail::scan;
using rampart::selector::detail::scan_with_grammar_lexer;
using rampart::selector::detail::TokenSpan;

namespace {

std::string describe(const std::vector<TokenSpan>& tokens) {
  std::ostringstream out;
  for (const auto& t : tokens) out << static_cast<long long>(t.type) << "[" << t.start << "," << t.stop << "] ";
  return out.str();
}

void require_same_tokens(const std::string& text) {
  const auto expected = scan_with_grammar_lexer(text);
  const auto actual = scan(text);
  INFO("selector: " << text << "\ngrammar lexer: " << describe(expected) << "\nscanner:       " << describe(actual));
  REQUIRE(actual == expected);

  // And the parser ends the same way on both: the same tree, or the same error.
  const auto fast = Selector::parse_uncached(text);
  const auto reference = parse_with_grammar_lexer(text);
  REQUIRE(fast.has_value() == reference.has_value());
  if (fast) {
    REQUIRE(fast->canonical() == reference->canonical());
  } else {
    REQUIRE(fast.error().message == reference.error().message);
    REQUIRE(fast.error().where.column == reference.error().where.column);
  }
}


}  // namespace

TEST_CASE("scanner matches the grammar lexer on Calico's vectors", "[selector][scanner]") {
  const auto texts = conformance_selectors();
  REQUIRE(texts.size() == 98 + 42 + 4 + 20);
  for (const auto& text : texts) require_same_tokens(text);
}

TEST_CASE("scanner matches the grammar lexer on the edges of the lexical rules", "[selector][scanner]") {
  const std::vector<std::string> edges = {
      "", " ", "\t \t", "a", "a ", "a==", "a == 'b'", "a==\"b\"", "a = 'b'", "a != 'b'", "a !'b'",
      // keywords: glued, blank-separated, truncated, followed by more ID chars
      "a contains 'x'", "a containsx 'x'", "a contain 'x'", "a in {}", "a inx {}", "a in{'x'}", "a not in {'x'}",
      "a notin {'x'}", "a not  \tin {}", "a not inx {}", "a not x", "a not", "a starts with 'x'", "a startswith 'x'",
      "a starts \t with'x'", "a starts withx 'y'", "a starts wit", "a starts", "a ends with 'x'", "a endswithx",
      "a ends wi", "a == 'x' && b in {'y',}", "a\tin\t{\t}",
      // functions: spacing, missing parts, glued labels
      "has(a)", "has( a )", "has(\ta\t)", "has()", "has( )", "has(a b)", "has(a", "has", "hasx(a)", "has (a)",
      "all()", "all( )", "all(x)", "all(", "all", "global()", "global( \t)", "global(x)", "globalx()",
      "!has(a)", "!!has(a)", "(has(a))", "((a == 'b'))",
      // strings and punctuation
      "a == 'unterminated", "a == \"unterminated", "a == 'it\"s'", "a == \"it's\"", "'", "\"", "''", "a in {'x', 'y'}",
      "a & b", "a | b", "a && b", "a || b", "a &&& b", "a ||| b", "=", "==", "!=", "!", "{}", "(,)",
      // label characters and bytes outside the language
      "a.b/c-d_e == 'x'", "a:b == 'x'", "a\nb", "\xff == 'x'", "a == '\xc3\xa9'", std::string("a\0b", 3), "a\x7f",
      "a == 'b' c", "a == 'b' && c not in {}", "k8s.io/name starts with \"p\"",
  };
  for (const auto& text : edges) require_same_tokens(text);
}

TEST_CASE("scanner matches the grammar lexer on generated text", "[selector][scanner]") {
  // Fragments chosen so that random concatenations hit the rule boundaries.
  const std::vector<std::string> fragments = {
      "a", "b.c/d", "-", "has(", "all(", "global(", ")", "(", "{", "}", ",", "'", "\"", "'v'", "\"v\"", " ", "\t",
      "==", "=", "!=", "!", "&&", "&", "||", "|", "in", "not", "not in", "contains", "starts", "with", "starts with",
      "ends", "ends with", "x", "\xfe", "\n", ":",
  };
  std::mt19937 rng(20261127);
  constexpr int kCases = 20000;
  for (int i = 0; i < kCases; ++i) {
    std::string text;
    const int parts = 1 + static_cast<int>(rng() % 8);
    for (int j = 0; j < parts; ++j) text += fragments[rng() % fragments.size()];
    require_same_tokens(text);
  }
}
