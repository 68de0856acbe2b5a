// The selector's token stream, exposed for tests and fuzzing only: the
// hand-written scanner that the parser uses must produce exactly the tokens
// that the ANTLR lexer generated from SelectorLexer.g4 produces.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "rampart/selector/selector.h"

namespace rampart::selector::detail {

struct TokenSpan {
  std::size_t type = 0;   // SelectorLexer's token type (EOF included)
  std::size_t start = 0;  // byte offsets, inclusive
  std::size_t stop = 0;
  friend bool operator==(const TokenSpan&, const TokenSpan&) = default;
};

// Tokens as the parser sees them (skipped whitespace left out), ending with EOF.
[[nodiscard]] std::vector<TokenSpan> scan(std::string_view text);
// The same, produced by the ANTLR lexer generated from SelectorLexer.g4.
[[nodiscard]] std::vector<TokenSpan> scan_with_grammar_lexer(std::string_view text);
// Selector::parse_uncached with the generated lexer in place of the scanner.
[[nodiscard]] Result<Selector> parse_with_grammar_lexer(std::string_view text);

}  // namespace rampart::selector::detail
