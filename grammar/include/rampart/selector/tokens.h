// The selector's token stream and reference parse paths, exposed for tests,
// fuzzing and benchmarks only: the hand-written scanner that the parser uses
// must produce exactly the tokens that the ANTLR lexer generated from
// SelectorLexer.g4 produces, and the AST the grammar's actions build must be
// the one a full parse tree gives.
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
// Selector::parse_uncached with the AST made from a full ANTLR parse tree
// instead of by the grammar's actions: the reference the actions are held to.
[[nodiscard]] Result<Selector> parse_with_parse_tree(std::string_view text);

}  // namespace rampart::selector::detail
